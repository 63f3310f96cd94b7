//! Reading a split's file into [`Example`]s.
//!
//! Every format first yields raw records (texts plus the label as a string), which
//! [`TaskSpec::read_split`] then turns into labels. TSV and CSV files are first cut into rows
//! of fields (a CSV field may span lines), then read alike. Lines are numbered from 1 as in an
//! editor; empty lines are skipped, `\r\n` endings and a leading UTF-8 BOM are accepted.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::spec::Layout;
use crate::{
    Column, DataError, Example, Format, Label, LabelSpec, Split, SplitFile, Splits, TaskSpec,
};

/// One row before its label is interpreted.
struct RawRecord {
    line: usize,
    text: String,
    pair: Option<String>,
    label: Option<String>,
}

impl TaskSpec {
    /// Reads `split` from its file under `data_dir` (absolute split paths ignore `data_dir`).
    ///
    /// Fails, naming the file and (where there is one) the line, when the spec is invalid, the task
    /// has no such split, the file is missing, a row is malformed, a label is not one of the task's
    /// classes or not a number, or the file holds no examples.
    pub fn read_split(&self, data_dir: &Path, split: Split) -> Result<Vec<Example>, DataError> {
        self.validate()?;
        let file = split_file(&self.name, self.description.as_deref(), &self.splits, split)?;
        let path = split_path(&self.name, data_dir, split, file)?;
        let layout = self.layout(file);
        let records = match self.format {
            Format::Tsv | Format::Csv => {
                let rows = rows(&path, &read_text(&path)?, self.format)?;
                table_records(&path, &rows, &layout)?
            }
            Format::Jsonl | Format::Parquet => {
                object_records(&path, split_objects(&path, self.format, file)?, &layout)?
            }
        };
        if records.is_empty() {
            return Err(DataError::EmptySplit { path });
        }
        records
            .into_iter()
            .map(|record| self.to_example(&path, record))
            .collect()
    }

    fn to_example(&self, path: &Path, record: RawRecord) -> Result<Example, DataError> {
        let label = match &record.label {
            Some(raw) => Some(self.parse_label(path, record.line, raw.trim())?),
            None => None,
        };
        Ok(Example {
            text: record.text,
            pair: record.pair,
            label,
        })
    }

    fn parse_label(&self, path: &Path, line: usize, raw: &str) -> Result<Label, DataError> {
        match &self.labels {
            LabelSpec::Classes { names } => names
                .iter()
                .position(|name| name == raw)
                .map(Label::Class)
                .ok_or_else(|| DataError::UnknownLabel {
                    path: path.to_path_buf(),
                    line,
                    value: raw.to_owned(),
                    allowed: names
                        .iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", "),
                }),
            LabelSpec::Regression => raw
                .parse::<f32>()
                .ok()
                .filter(|score| score.is_finite())
                .map(Label::Score)
                .ok_or_else(|| DataError::BadScore {
                    path: path.to_path_buf(),
                    line,
                    value: raw.to_owned(),
                }),
        }
    }
}

/// The file of `split`, or why the task has none.
pub(crate) fn split_file<'a>(
    task: &str,
    description: Option<&str>,
    splits: &'a Splits,
    split: Split,
) -> Result<&'a SplitFile, DataError> {
    splits
        .get(split)
        .ok_or_else(|| DataError::SplitUnavailable {
            task: task.to_owned(),
            split,
            note: description.map(|d| format!(" ({d})")).unwrap_or_default(),
        })
}

/// The full path of a split's file, which must exist.
pub(crate) fn split_path(
    task: &str,
    data_dir: &Path,
    split: Split,
    file: &SplitFile,
) -> Result<PathBuf, DataError> {
    let path = data_dir.join(&file.path);
    if !path.is_file() {
        return Err(DataError::MissingFile {
            task: task.to_owned(),
            split,
            path,
            relative: file.path.clone(),
        });
    }
    Ok(path)
}

/// The rows of a split's file as objects, each with its 1-based line (or Parquet row) number,
/// after the split's `skip_examples` and up to its `max_examples`: JSONL lines, Parquet rows,
/// or TSV/CSV rows keyed by the header row's names and by position.
pub(crate) fn split_objects(
    path: &Path,
    format: Format,
    file: &SplitFile,
) -> Result<Vec<NumberedObject>, DataError> {
    match format {
        Format::Jsonl => jsonl_objects(path, &read_text(path)?, file),
        Format::Parquet => parquet_objects(path, file),
        Format::Tsv | Format::Csv => {
            Ok(table_objects(&rows(path, &read_text(path)?, format)?, file))
        }
    }
}

/// The rows of a JSONL file as objects, each with its 1-based line number, after the split's
/// `skip_examples` and up to its `max_examples`.
fn jsonl_objects(
    path: &Path,
    content: &str,
    file: &SplitFile,
) -> Result<Vec<NumberedObject>, DataError> {
    numbered_lines(content)
        .skip(file.skip_examples)
        .take(file.max_examples.unwrap_or(usize::MAX))
        .map(|(line, text)| Ok((line, parse_json_object(path, line, text)?)))
        .collect()
}

/// The rows of a Parquet file as objects (column name → value; nested lists and structs as
/// arrays and objects), each with its 1-based row number, after the split's `skip_examples`
/// and up to its `max_examples`.
fn parquet_objects(path: &Path, file: &SplitFile) -> Result<Vec<NumberedObject>, DataError> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let bad = |e: parquet::errors::ParquetError| DataError::BadParquet {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let opened = std::fs::File::open(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let reader = SerializedFileReader::new(opened).map_err(bad)?;
    reader
        .get_row_iter(None)
        .map_err(bad)?
        .enumerate()
        .skip(file.skip_examples)
        .take(file.max_examples.unwrap_or(usize::MAX))
        .map(|(index, row)| match row.map_err(bad)?.to_json_value() {
            Value::Object(object) => Ok((index + 1, object)),
            _ => unreachable!("a Parquet row converts to a JSON object"),
        })
        .collect()
}

/// Non-empty lines with their 1-based line numbers.
/// One JSONL line as a JSON object; anything else is an error naming the file and line.
pub(crate) fn parse_json_object(
    path: &Path,
    line: usize,
    text: &str,
) -> Result<Map<String, Value>, DataError> {
    serde_json::from_str(text).map_err(|e| DataError::BadJson {
        path: path.to_path_buf(),
        line,
        message: e.to_string(),
    })
}

pub(crate) fn numbered_lines(content: &str) -> impl Iterator<Item = (usize, &str)> {
    content
        .lines()
        .enumerate()
        .map(|(index, line)| (index + 1, line))
        .filter(|(_, line)| !line.is_empty())
}

/// A row of a TSV or CSV file: its 1-based line number and its fields.
type Row = (usize, Vec<String>);

/// The non-empty rows of a TSV (split on tabs only) or CSV (RFC 4180) file; every row must have
/// as many fields as the first.
fn rows(path: &Path, content: &str, format: Format) -> Result<Vec<Row>, DataError> {
    let rows: Vec<Row> = match format {
        Format::Csv => csv_rows(path, content)?,
        _ => numbered_lines(content)
            .map(|(line, row)| (line, row.split('\t').map(str::to_owned).collect()))
            .collect(),
    };
    if let Some((_, first)) = rows.first() {
        let width = first.len();
        if let Some((line, fields)) = rows.iter().find(|(_, fields)| fields.len() != width) {
            return Err(DataError::MalformedRow {
                path: path.to_path_buf(),
                line: *line,
                expected: width,
                found: fields.len(),
                advice: match format {
                    Format::Csv => {
                        "a field holding a comma must be quoted (\"a, b\"): fix or delete the row"
                    }
                    _ => {
                        "fields are split on tabs only, so a stray tab or a cut-off line causes \
                         this: fix or delete the row"
                    }
                },
            });
        }
    }
    Ok(rows)
}

fn csv_rows(path: &Path, content: &str) -> Result<Vec<Row>, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(content.as_bytes());
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError::BadCsv {
            path: path.to_path_buf(),
            line: e.position().map_or(0, |p| p.line() as usize),
            message: e.to_string(),
        })?;
        if record.len() == 1 && record[0].is_empty() {
            continue;
        }
        let line = record.position().map_or(0, |p| p.line() as usize);
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(rows)
}

/// Reads table rows (TSV or CSV) into records, with or without a header row.
fn table_records(
    path: &Path,
    rows: &[Row],
    layout: &Layout<'_>,
) -> Result<Vec<RawRecord>, DataError> {
    let Some((first_line, first)) = rows.first() else {
        return Ok(Vec::new());
    };
    let width = first.len();
    let header: Option<&[String]> = layout.header.then_some(first.as_slice());
    let body = &rows[usize::from(layout.header)..];
    let find = |column: &Column| table_column(path, *first_line, column, header, width);
    let text = find(layout.text)?;
    let pair = layout.pair.map(find).transpose()?;
    let label = layout.label.map(find).transpose()?;
    Ok(body
        .iter()
        .skip(layout.skip_examples)
        .take(layout.max_examples.unwrap_or(usize::MAX))
        .map(|(line, fields)| RawRecord {
            line: *line,
            text: fields[text].clone(),
            pair: pair.map(|i| fields[i].clone()),
            label: label.map(|i| fields[i].clone()),
        })
        .collect())
}

/// A row as a JSON object, with its 1-based line number.
pub(crate) type NumberedObject = (usize, Map<String, Value>);

/// Table rows (TSV or CSV) below a header row as objects of strings, keyed by the header's
/// column names and by 0-based position (`"0"`, `"1"`, …; a header name wins over a position it
/// spells).
fn table_objects(rows: &[Row], file: &SplitFile) -> Vec<NumberedObject> {
    let Some((_, header)) = rows.first() else {
        return Vec::new();
    };
    rows[1..]
        .iter()
        .skip(file.skip_examples)
        .take(file.max_examples.unwrap_or(usize::MAX))
        .map(|(line, fields)| {
            let mut object = Map::new();
            for (position, value) in fields.iter().enumerate() {
                object.insert(position.to_string(), Value::from(value.as_str()));
            }
            for (name, value) in header.iter().zip(fields) {
                object.insert(name.clone(), Value::from(value.as_str()));
            }
            (*line, object)
        })
        .collect()
}

/// The 0-based index of `column` in a table whose first row has `width` fields.
fn table_column(
    path: &Path,
    line: usize,
    column: &Column,
    header: Option<&[String]>,
    width: usize,
) -> Result<usize, DataError> {
    let found = match (column, header) {
        (Column::Index(index), _) => Some(*index).filter(|&i| i < width),
        (Column::Name(name), Some(names)) => names.iter().position(|n| n == name),
        (Column::Name(_), None) => None,
    };
    found.ok_or_else(|| DataError::MissingColumn {
        path: path.to_path_buf(),
        line,
        column: column.to_string(),
        available: match header {
            Some(names) => format!(
                "header {}",
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            None => format!("{width} columns and no header"),
        },
    })
}

/// Records from objects (JSONL lines, Parquet rows); texts must be strings, labels may be
/// strings, numbers or bools.
fn object_records(
    path: &Path,
    objects: Vec<NumberedObject>,
    layout: &Layout<'_>,
) -> Result<Vec<RawRecord>, DataError> {
    objects
        .into_iter()
        .map(|(line, object)| {
            let field = JsonField {
                path,
                line,
                object: &object,
            };
            Ok(RawRecord {
                line,
                text: field.text(layout.text)?,
                pair: layout.pair.map(|c| field.text(c)).transpose()?,
                label: layout.label.map(|c| field.label(c)).transpose()?,
            })
        })
        .collect()
}

/// Field access on one JSONL line, with errors that name file, line and key.
struct JsonField<'a> {
    path: &'a Path,
    line: usize,
    object: &'a Map<String, Value>,
}

impl JsonField<'_> {
    fn text(&self, column: &Column) -> Result<String, DataError> {
        match self.get(column)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.bad(column, format!("is {}, not a string", kind_of(other)))),
        }
    }

    fn label(&self, column: &Column) -> Result<String, DataError> {
        match self.get(column)? {
            Value::String(s) => Ok(s.clone()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(self.bad(column, format!("is {}, not a label", kind_of(other)))),
        }
    }

    fn get(&self, column: &Column) -> Result<&Value, DataError> {
        let Column::Name(key) = column else {
            return Err(self.bad(
                column,
                "is a column index, but JSONL fields are keys".into(),
            ));
        };
        match self.object.get(key) {
            None | Some(Value::Null) => Err(self.bad(
                column,
                "is missing (for a split without labels, mark it unlabeled = true)".into(),
            )),
            Some(value) => Ok(value),
        }
    }

    fn bad(&self, column: &Column, problem: String) -> DataError {
        DataError::BadField {
            path: PathBuf::from(self.path),
            line: self.line,
            field: column.to_string(),
            problem,
        }
    }
}

pub(crate) fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads a text file without a leading UTF-8 BOM; bytes that are not UTF-8 are refused with
/// their line and column.
pub(crate) fn read_text(path: &Path) -> Result<String, DataError> {
    let mut bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if bytes.starts_with("\u{feff}".as_bytes()) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line_start = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        DataError::NotUtf8 {
            path: path.to_path_buf(),
            line: valid.iter().filter(|&&b| b == b'\n').count() + 1,
            column: valid.len() - line_start + 1,
        }
    })
}
