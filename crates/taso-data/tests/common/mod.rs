//! Files the task-reader tests write for themselves.

use std::path::Path;

/// Writes a snappy-compressed Parquet file (as the Hugging Face hub stores datasets) with a
/// UTF-8 `sentence` column and an INT64 `label` column.
pub fn write_parquet(path: &Path, sentences: &[&str], labels: &[i64]) {
    use parquet::basic::Compression;
    use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
    use parquet::file::{properties::WriterProperties, writer::SerializedFileWriter};
    use std::sync::Arc;
    let schema = "message schema { REQUIRED BYTE_ARRAY sentence (UTF8); REQUIRED INT64 label; }";
    let schema = Arc::new(parquet::schema::parser::parse_message_type(schema).unwrap());
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(props)).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    let texts: Vec<ByteArray> = sentences.iter().map(|s| ByteArray::from(*s)).collect();
    column
        .typed::<ByteArrayType>()
        .write_batch(&texts, None, None)
        .unwrap();
    column.close().unwrap();
    let mut column = group.next_column().unwrap().unwrap();
    column
        .typed::<Int64Type>()
        .write_batch(labels, None, None)
        .unwrap();
    column.close().unwrap();
    group.close().unwrap();
    writer.close().unwrap();
}
