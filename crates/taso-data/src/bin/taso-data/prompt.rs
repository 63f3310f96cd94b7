//! Describing a prompt task: answers per split, and with a tokenizer, prompt and answer token
//! lengths, prompts cut at `max_len`, and one example as the model sees it.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use taso_data::{
    extract_final_number, AnswerSpec, PromptAnswer, PromptExample, PromptSplit, PromptTaskSpec,
    PromptTokenizer, Split,
};

use crate::{each_split, Args, Spread};

/// Default token budget of prompt plus answer.
const DEFAULT_MAX_LEN: usize = 1024;

/// Prints the task, each split's answers and token figures, and the first example rendered.
pub(crate) fn describe(task: &PromptTaskSpec, data_dir: &Path, args: &Args) -> Result<()> {
    let max_len = args.max_len.unwrap_or(DEFAULT_MAX_LEN);
    let tokenizer = args
        .tokenizer
        .as_deref()
        .map(|path| PromptTokenizer::from_path(path, max_len))
        .transpose()?;
    println!(
        "task {} ({}), prompt task, data in {}",
        task.name,
        task.description.as_deref().unwrap_or("-"),
        data_dir.display()
    );
    println!(
        "  answer: {}; metric {}",
        answer_kind(&task.answer),
        task.metrics[0].name()
    );
    if let Some(tokenizer) = &tokenizer {
        println!("  {}", template_note(task, tokenizer, args));
    }
    let mut first = None;
    each_split(
        &task.name,
        &task.splits,
        |split| task.read_split(data_dir, split),
        answer_summary,
        |split, examples| {
            if let Some(tokenizer) = &tokenizer {
                let encoded = PromptSplit::new(tokenizer, task, &examples)
                    .with_context(|| format!("tokenizing the {split} split of {}", task.name))?;
                println!("         {}", token_summary(&encoded, max_len));
            }
            if first.is_none() {
                first = Some((split, examples[0].clone()));
            }
            Ok(())
        },
    )?;
    if let Some((split, example)) = first {
        print_example(task, tokenizer.as_ref(), split, &example)?;
    }
    Ok(())
}

fn answer_kind(answer: &AnswerSpec) -> String {
    match answer {
        AnswerSpec::Candidates { field, candidates } => {
            let texts: Vec<String> = candidates.iter().map(|c| format!("{:?}", c.text)).collect();
            format!("one of {} (gold from `{field}`)", texts.join(", "))
        }
        AnswerSpec::Choices { field, list, .. } => {
            format!("one of the choices in `{list}` (gold from `{field}`)")
        }
        AnswerSpec::Free { field } => format!("free-form text from `{field}`"),
    }
}

fn template_note(task: &PromptTaskSpec, tokenizer: &PromptTokenizer, args: &Args) -> String {
    let chat = match (tokenizer.has_chat_template(), task.chat_template) {
        (false, _) => {
            "the tokenizer has no chat template: plain prompt + separator + answer".to_owned()
        }
        (true, true) => {
            "prompts rendered as a user turn with the tokenizer's chat template".to_owned()
        }
        (true, false) if args.no_chat_template => {
            "chat template off (--no-chat-template)".to_owned()
        }
        (true, false) => "chat template off (chat_template = false in the task)".to_owned(),
    };
    format!("{chat}; max_len {}", tokenizer.max_len())
}

/// Gold answer counts (candidate tasks: per answer text and per candidate count), or how many
/// free-form answers have a final number.
fn answer_summary(examples: &[PromptExample]) -> String {
    let mut golds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut choice_counts: BTreeMap<usize, usize> = BTreeMap::new();
    let (mut free, mut numbered, mut unlabeled) = (0, 0, 0);
    for example in examples {
        match &example.answer {
            PromptAnswer::Choice { candidates, gold } => {
                *choice_counts.entry(candidates.len()).or_default() += 1;
                match gold {
                    Some(gold) => *golds.entry(candidates[*gold].as_str()).or_default() += 1,
                    None => unlabeled += 1,
                }
            }
            PromptAnswer::Free { target } => {
                free += 1;
                match target {
                    Some(target) => numbered += usize::from(extract_final_number(target).is_some()),
                    None => unlabeled += 1,
                }
            }
        }
    }
    if unlabeled == examples.len() {
        return "unlabeled".to_owned();
    }
    if free > 0 {
        return format!("{numbered} of {free} answers end in a final number");
    }
    let join = |parts: Vec<String>| parts.join(", ");
    format!(
        "gold answers {}; candidates per example {}",
        join(golds.iter().map(|(a, n)| format!("{a:?}: {n}")).collect()),
        join(
            choice_counts
                .iter()
                .map(|(c, n)| format!("{c}: {n}"))
                .collect()
        )
    )
}

/// Prompt and gold-answer token lengths and how many prompts are cut.
fn token_summary(split: &PromptSplit, max_len: usize) -> String {
    let prompts: Vec<usize> = split
        .encodings
        .iter()
        .map(|e| e.prompt_ids.len() + e.truncated)
        .collect();
    let answers: Vec<usize> = split
        .encodings
        .iter()
        .filter_map(|e| e.gold_ids().map(<[u32]>::len))
        .collect();
    let cut = split.encodings.iter().filter(|e| e.truncated > 0).count();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len().max(1) as f64;
    let prompt = Spread::of(&prompts);
    let mut line = format!(
        "prompt tokens: mean {:.1}, median {}, p90 {}, max {}; {cut} cut from the left at max_len {max_len}",
        mean(&prompts),
        prompt.median,
        prompt.p90,
        prompt.max
    );
    if !answers.is_empty() {
        let answer = Spread::of(&answers);
        line += &format!(
            "; gold answer tokens: mean {:.1}, max {}",
            mean(&answers),
            answer.max
        );
    }
    line
}

/// The example as the model sees it: the rendered prompt, then the gold (or first) answer.
fn print_example(
    task: &PromptTaskSpec,
    tokenizer: Option<&PromptTokenizer>,
    split: Split,
    example: &PromptExample,
) -> Result<()> {
    let answer = match &example.answer {
        PromptAnswer::Choice { candidates, gold } => candidates.get(gold.unwrap_or(0)),
        PromptAnswer::Free { target } => target.as_ref(),
    };
    let (prompt, answer) = match tokenizer {
        Some(tokenizer) => (
            tokenizer.render_prompt(task, &example.prompt)?,
            answer.map(|a| tokenizer.render_answer(task, a)),
        ),
        None => (
            example.prompt.clone(),
            answer.map(|a| format!("{}{a}", task.separator)),
        ),
    };
    println!("  first {split} example, prompt:");
    for line in prompt.lines() {
        println!("    | {line}");
    }
    if let Some(answer) = answer {
        println!("  answer (the only tokens in the loss):");
        for line in answer.lines() {
            println!("    | {line}");
        }
    }
    Ok(())
}
