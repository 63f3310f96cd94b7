//! Hugging Face chat templates: the prompt as one user turn, followed by the generation prompt.
//!
//! The template comes from `chat_template.jinja` beside the tokenizer, else from the
//! `chat_template` key of `tokenizer_config.json` (a string, or a list of named templates of
//! which `default` is used). It is rendered with minijinja set up like Hugging Face's Jinja
//! environment (`trim_blocks`, `lstrip_blocks`, Python string methods, `raise_exception`), with
//! `messages`, `add_generation_prompt = true`, `bos_token` and `eos_token`.

use std::path::{Path, PathBuf};

use minijinja::{context, Environment, Error, ErrorKind};
use serde_json::Value;

use crate::DataError;

const TEMPLATE_NAME: &str = "chat";

/// What `tokenizer_config.json` says about special tokens and the chat template.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TokenizerConfig {
    /// The file read (for messages); `None` when there is none.
    pub path: Option<PathBuf>,
    pub bos_token: Option<String>,
    pub eos_token: Option<String>,
    pub pad_token: Option<String>,
    /// The template source and the file it came from.
    pub chat_template: Option<(String, PathBuf)>,
}

impl TokenizerConfig {
    /// Reads `tokenizer_config.json` and `chat_template.jinja` in `folder`, where present.
    pub(crate) fn read(folder: &Path) -> Result<Self, DataError> {
        let path = folder.join("tokenizer_config.json");
        let mut config = if path.is_file() {
            parse_config(&path)?
        } else {
            TokenizerConfig::default()
        };
        let jinja = folder.join("chat_template.jinja");
        if jinja.is_file() {
            let source = crate::readers::read_text(&jinja)?;
            config.chat_template = Some((source, jinja));
        }
        Ok(config)
    }
}

fn parse_config(path: &Path) -> Result<TokenizerConfig, DataError> {
    let text = crate::readers::read_text(path)?;
    let fail = |message: String| DataError::Tokenizer {
        path: path.to_path_buf(),
        message,
    };
    let json: Value = serde_json::from_str(&text)
        .map_err(|e| fail(format!("not valid JSON ({e}); fix or remove the file")))?;
    let template = match json.get("chat_template") {
        None | Some(Value::Null) => None,
        Some(Value::String(source)) => Some(source.clone()),
        Some(Value::Array(named)) => Some(default_named_template(named).ok_or_else(|| {
            fail("`chat_template` is a list without a template named \"default\"; name one \"default\"".into())
        })?),
        Some(_) => {
            return Err(fail(
                "`chat_template` is neither a string nor a list of {name, template}".into(),
            ))
        }
    };
    Ok(TokenizerConfig {
        path: Some(path.to_path_buf()),
        bos_token: token_text(json.get("bos_token")),
        eos_token: token_text(json.get("eos_token")),
        pad_token: token_text(json.get("pad_token")),
        chat_template: template.map(|source| (source, path.to_path_buf())),
    })
}

fn default_named_template(named: &[Value]) -> Option<String> {
    named
        .iter()
        .find(|entry| entry.get("name").and_then(Value::as_str) == Some("default"))
        .and_then(|entry| entry.get("template"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A special token as Hugging Face writes it: a string, or an object with `content`.
fn token_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(token) => Some(token.clone()),
        Value::Object(object) => object.get("content")?.as_str().map(str::to_owned),
        _ => None,
    }
}

/// A compiled chat template.
pub(crate) struct ChatTemplate {
    env: Environment<'static>,
    path: PathBuf,
    bos_token: String,
    eos_token: String,
}

impl ChatTemplate {
    /// Compiles `source` (read from `path`), with the special tokens the template may use.
    pub(crate) fn new(
        source: String,
        path: PathBuf,
        bos_token: Option<&str>,
        eos_token: Option<&str>,
    ) -> Result<Self, DataError> {
        let mut env = Environment::new();
        env.set_syntax(
            minijinja::syntax::SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned(TEMPLATE_NAME, source)
            .map_err(|e| DataError::ChatTemplate {
                path: path.clone(),
                message: format!("does not parse: {e:#}"),
            })?;
        Ok(ChatTemplate {
            env,
            path,
            bos_token: bos_token.unwrap_or_default().to_owned(),
            eos_token: eos_token.unwrap_or_default().to_owned(),
        })
    }

    /// `prompt` as a single user turn followed by the assistant's generation prompt.
    pub(crate) fn render_user_turn(&self, prompt: &str) -> Result<String, DataError> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .expect("the template was added in new()");
        template
            .render(context! {
                messages => [context! { role => "user", content => prompt }],
                add_generation_prompt => true,
                bos_token => &self.bos_token,
                eos_token => &self.eos_token,
            })
            .map_err(|e| DataError::ChatTemplate {
                path: self.path.clone(),
                message: format!("rendering a user turn failed: {e:#}"),
            })
    }
}

fn raise_exception(message: String) -> Result<String, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ChatML as SmolLM2-Instruct writes it (system turn added when the first message is not one).
    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    fn template(source: &str) -> ChatTemplate {
        ChatTemplate::new(source.into(), "t.json".into(), Some("<s>"), Some("</s>")).unwrap()
    }

    #[test]
    fn renders_chatml_with_generation_prompt() {
        assert_eq!(
            template(CHATML)
                .render_user_turn("Is it?\nAnswer:")
                .unwrap(),
            "<|im_start|>system\nYou are a helpful AI assistant.<|im_end|>\n\
             <|im_start|>user\nIs it?\nAnswer:<|im_end|>\n<|im_start|>assistant\n"
        );
    }

    #[test]
    fn hugging_face_conventions_hold() {
        // bos_token, trim_blocks/lstrip_blocks, Python string methods.
        let source = "{{ bos_token }}\n{% for m in messages %}\n    {{ m.content.strip() | upper }}\n{% endfor %}\n{% if add_generation_prompt %}>{% endif %}";
        assert_eq!(
            template(source).render_user_turn("  hi ").unwrap(),
            "<s>\n    HI\n>"
        );
        let raising = "{% if messages[0].role == 'user' %}{{ raise_exception('users not allowed') }}{% endif %}";
        let err = template(raising)
            .render_user_turn("x")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("users not allowed") && err.contains("chat_template = false"),
            "{err}"
        );
        let err = ChatTemplate::new("{% if %}".into(), "t.json".into(), None, None)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("t.json") && err.contains("does not parse"),
            "{err}"
        );
    }

    #[test]
    fn config_tokens_and_named_templates() {
        let dir = tempfile::tempdir().unwrap();
        let write = |json: &str| {
            std::fs::write(dir.path().join("tokenizer_config.json"), json).unwrap();
            TokenizerConfig::read(dir.path())
        };
        let config = write(r#"{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>",
            "chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}"#)
        .unwrap();
        assert_eq!(config.bos_token.as_deref(), Some("<s>"));
        assert_eq!(config.eos_token.as_deref(), Some("</s>"));
        assert_eq!(config.chat_template.unwrap().0, "D");
        let err = write(r#"{"chat_template": [{"name": "x", "template": "T"}]}"#).unwrap_err();
        assert!(err.to_string().contains("\"default\""), "{err}");

        std::fs::write(dir.path().join("chat_template.jinja"), "J").unwrap();
        let config = write(r#"{"chat_template": "C"}"#).unwrap();
        assert_eq!(config.chat_template.unwrap().0, "J", "the .jinja file wins");
    }
}
