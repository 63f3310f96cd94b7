//! The examples a task's split is read into.

/// A gold label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Label {
    /// Class id: the position of the label's name in the task's class list.
    Class(usize),
    /// Regression target.
    Score(f32),
}

/// One example of a split: one or two texts and, unless the split is unlabeled, its label.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// The (first) text.
    pub text: String,
    /// The second text of a sentence-pair task.
    pub pair: Option<String>,
    /// The gold label; `None` for unlabeled splits such as GLUE test files.
    pub label: Option<Label>,
}
