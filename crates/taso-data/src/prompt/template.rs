//! The `{field}` prompt templates of prompt tasks.
//!
//! A template is literal text with placeholders: `{question}` is the record's `question` field,
//! `{question.stem}` a field inside an object; `{{` and `}}` stand for literal braces. Placeholders
//! are filled by a caller-supplied lookup, so the same template type renders whole records (the
//! prompt) and single choice objects (ARC's choice lines and candidates).

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

/// A parsed `{field}` template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// Parses `text`; fails (with what to fix) on an unclosed `{`, a stray `}` or an empty or
    /// malformed placeholder.
    pub(crate) fn parse(text: &str) -> Result<Template, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, chars.peek()) {
                ('{', Some('{')) | ('}', Some('}')) => {
                    chars.next();
                    literal.push(c);
                }
                ('{', _) => {
                    let (name, closed) = placeholder_name(&mut chars);
                    check_placeholder(text, &name, closed)?;
                    segments.push(Segment::Literal(std::mem::take(&mut literal)));
                    segments.push(Segment::Placeholder(name));
                }
                ('}', _) => {
                    return Err(format!(
                        "template `{text}` has a `}}` without its `{{`: write `}}}}` for a literal brace"
                    ))
                }
                _ => literal.push(c),
            }
        }
        segments.push(Segment::Literal(literal));
        segments.retain(|s| !matches!(s, Segment::Literal(l) if l.is_empty()));
        Ok(Template { segments })
    }

    /// The placeholder names, in order of appearance (with repeats).
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter_map(|s| match s {
            Segment::Placeholder(name) => Some(name.as_str()),
            Segment::Literal(_) => None,
        })
    }

    /// Fills every placeholder with `lookup(name)`.
    pub(crate) fn render<E>(
        &self,
        mut lookup: impl FnMut(&str) -> Result<String, E>,
    ) -> Result<String, E> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Placeholder(name) => out.push_str(&lookup(name)?),
            }
        }
        Ok(out)
    }
}

/// The text up to the next `}` (consumed), and whether there was one.
fn placeholder_name(chars: &mut impl Iterator<Item = char>) -> (String, bool) {
    let mut name = String::new();
    for c in chars {
        if c == '}' {
            return (name, true);
        }
        name.push(c);
    }
    (name, false)
}

/// A placeholder must be closed and be a dotted path of non-empty names without spaces or braces.
fn check_placeholder(text: &str, name: &str, closed: bool) -> Result<(), String> {
    if !closed {
        return Err(format!(
            "template `{text}` has a `{{` without its `}}`: close the placeholder, or write `{{{{` for a literal brace"
        ));
    }
    let malformed = name.split('.').any(|part| {
        part.is_empty()
            || part
                .chars()
                .any(|c| c.is_whitespace() || c == '{' || c == '}')
    });
    if malformed {
        return Err(format!(
            "template `{text}` has the placeholder `{{{name}}}`: a placeholder names a field, e.g. {{question}} or {{question.stem}} \
             (write `{{{{` and `}}}}` for literal braces)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str, lookup: &[(&str, &str)]) -> String {
        Template::parse(template)
            .unwrap()
            .render(|name| {
                lookup
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| value.to_string())
                    .ok_or(name.to_owned())
            })
            .unwrap()
    }

    #[test]
    fn fills_placeholders_and_keeps_escaped_braces() {
        let lookup = [("question.stem", "Why?"), ("a", "x")];
        assert_eq!(
            render("Q: {question.stem}\n{{a}} = {a}{a}", &lookup),
            "Q: Why?\n{a} = xx"
        );
        let template = Template::parse("{a}, {question.stem} and {a}").unwrap();
        assert_eq!(
            template.placeholders().collect::<Vec<_>>(),
            ["a", "question.stem", "a"]
        );
        assert_eq!(render("no placeholders }} {{", &[]), "no placeholders } {");
    }

    #[test]
    fn malformed_templates_say_what_to_fix() {
        for (text, needle) in [
            ("Q: {question", "without its `}`"),
            ("{a} and {a", "without its `}`"),
            ("Q: question}", "without its `{`"),
            ("Q: {}", "names a field"),
            ("Q: {a..b}", "names a field"),
            ("Q: {the question}", "names a field"),
        ] {
            let err = Template::parse(text).unwrap_err();
            assert!(err.contains(needle), "{text}: {err}");
        }
    }
}
