//! GGUF metadata: the typed values of the key/value section and checked look-ups by key.

use std::collections::BTreeMap;

use crate::error::GgufError;

/// One metadata value, in the GGUF value type it was stored as.
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataValue {
    /// Type 0.
    U8(u8),
    /// Type 1.
    I8(i8),
    /// Type 2.
    U16(u16),
    /// Type 3.
    I16(i16),
    /// Type 4.
    U32(u32),
    /// Type 5.
    I32(i32),
    /// Type 6.
    F32(f32),
    /// Type 7.
    Bool(bool),
    /// Type 8: UTF-8 text.
    String(String),
    /// Type 9: values of one type (possibly arrays themselves). An empty array keeps no
    /// element type.
    Array(Vec<MetadataValue>),
    /// Type 10.
    U64(u64),
    /// Type 11.
    I64(i64),
    /// Type 12.
    F64(f64),
}

impl MetadataValue {
    /// The GGUF value-type id of this value.
    pub fn type_id(&self) -> u32 {
        match self {
            MetadataValue::U8(_) => 0,
            MetadataValue::I8(_) => 1,
            MetadataValue::U16(_) => 2,
            MetadataValue::I16(_) => 3,
            MetadataValue::U32(_) => 4,
            MetadataValue::I32(_) => 5,
            MetadataValue::F32(_) => 6,
            MetadataValue::Bool(_) => 7,
            MetadataValue::String(_) => 8,
            MetadataValue::Array(_) => 9,
            MetadataValue::U64(_) => 10,
            MetadataValue::I64(_) => 11,
            MetadataValue::F64(_) => 12,
        }
    }

    /// A short description for error messages ("u32 7", "string", "array of 3").
    fn describe(&self) -> String {
        match self {
            MetadataValue::String(_) => "a string".to_string(),
            MetadataValue::Array(items) => format!("an array of {}", items.len()),
            other => format!("{other:?}"),
        }
    }

    /// The value as an unsigned integer, from any integer type that holds a non-negative value.
    fn as_u64(&self) -> Option<u64> {
        match *self {
            MetadataValue::U8(v) => Some(v.into()),
            MetadataValue::U16(v) => Some(v.into()),
            MetadataValue::U32(v) => Some(v.into()),
            MetadataValue::U64(v) => Some(v),
            MetadataValue::I8(v) => u64::try_from(v).ok(),
            MetadataValue::I16(v) => u64::try_from(v).ok(),
            MetadataValue::I32(v) => u64::try_from(v).ok(),
            MetadataValue::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// The value as a signed integer, from any integer type that fits.
    fn as_i64(&self) -> Option<i64> {
        match *self {
            MetadataValue::I8(v) => Some(v.into()),
            MetadataValue::I16(v) => Some(v.into()),
            MetadataValue::I32(v) => Some(v.into()),
            MetadataValue::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// The value as a float. An f32 goes through its shortest decimal form, so that the
    /// f32 `1e-5` becomes the f64 `1e-5` rather than `9.999999747378752e-6`.
    fn as_f64(&self) -> Option<f64> {
        match *self {
            MetadataValue::F32(v) => format!("{v}").parse().ok(),
            MetadataValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }
}

/// The metadata of a GGUF file, by key.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata(pub BTreeMap<String, MetadataValue>);

impl Metadata {
    /// The raw value of `key`, if present.
    pub fn get(&self, key: &str) -> Option<&MetadataValue> {
        self.0.get(key)
    }

    /// A required non-negative integer.
    pub fn u64(&self, key: &str) -> Result<u64, GgufError> {
        self.required(key)
            .and_then(|v| self.typed(key, v, "a non-negative integer", MetadataValue::as_u64))
    }

    /// An optional non-negative integer.
    pub fn opt_u64(&self, key: &str) -> Result<Option<u64>, GgufError> {
        self.optional(key, "a non-negative integer", MetadataValue::as_u64)
    }

    /// A required number.
    pub fn f64(&self, key: &str) -> Result<f64, GgufError> {
        self.required(key)
            .and_then(|v| self.typed(key, v, "a number", MetadataValue::as_f64))
    }

    /// An optional number.
    pub fn opt_f64(&self, key: &str) -> Result<Option<f64>, GgufError> {
        self.optional(key, "a number", MetadataValue::as_f64)
    }

    /// An optional boolean.
    pub fn opt_bool(&self, key: &str) -> Result<Option<bool>, GgufError> {
        self.optional(key, "a boolean", |v| match v {
            MetadataValue::Bool(b) => Some(*b),
            _ => None,
        })
    }

    /// A required string.
    pub fn str(&self, key: &str) -> Result<&str, GgufError> {
        self.required(key)
            .and_then(|v| self.typed(key, v, "a string", as_str))
    }

    /// An optional string.
    pub fn opt_str(&self, key: &str) -> Result<Option<&str>, GgufError> {
        self.optional(key, "a string", as_str)
    }

    /// A required array whose every element converts with `convert` (described by `expected`).
    pub fn array<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<Vec<T>, GgufError> {
        let value = self.required(key)?;
        let wrong = || GgufError::WrongKeyType {
            key: key.to_string(),
            expected,
            found: value.describe(),
        };
        let MetadataValue::Array(items) = value else {
            return Err(wrong());
        };
        items
            .iter()
            .map(|item| convert(item).ok_or_else(wrong))
            .collect()
    }

    /// A required array of strings.
    pub fn strings(&self, key: &str) -> Result<Vec<&str>, GgufError> {
        self.array(key, "an array of strings", as_str)
    }

    /// A required array of integers.
    pub fn integers(&self, key: &str) -> Result<Vec<i64>, GgufError> {
        self.array(key, "an array of integers", MetadataValue::as_i64)
    }

    fn required(&self, key: &str) -> Result<&MetadataValue, GgufError> {
        self.get(key).ok_or_else(|| GgufError::MissingKey {
            key: key.to_string(),
        })
    }

    fn optional<'a, T>(
        &'a self,
        key: &str,
        expected: &'static str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<Option<T>, GgufError> {
        self.get(key)
            .map(|v| self.typed(key, v, expected, convert))
            .transpose()
    }

    fn typed<'a, T>(
        &self,
        key: &str,
        value: &'a MetadataValue,
        expected: &'static str,
        convert: impl Fn(&'a MetadataValue) -> Option<T>,
    ) -> Result<T, GgufError> {
        convert(value).ok_or_else(|| GgufError::WrongKeyType {
            key: key.to_string(),
            expected,
            found: value.describe(),
        })
    }
}

fn as_str(value: &MetadataValue) -> Option<&str> {
    match value {
        MetadataValue::String(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(pairs: &[(&str, MetadataValue)]) -> Metadata {
        Metadata(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn integers_widen_and_f32_keeps_its_decimal_value() {
        let m = metadata(&[
            ("a", MetadataValue::U32(7)),
            ("b", MetadataValue::I32(3)),
            ("eps", MetadataValue::F32(1e-5)),
        ]);
        assert_eq!(m.u64("a").unwrap(), 7);
        assert_eq!(m.u64("b").unwrap(), 3);
        assert_eq!(m.f64("eps").unwrap(), 1e-5);
        assert_eq!(m.opt_u64("absent").unwrap(), None);
    }

    #[test]
    fn missing_and_mistyped_keys_are_named() {
        let m = metadata(&[("neg", MetadataValue::I32(-1))]);
        let missing = m.u64("llama.block_count").unwrap_err().to_string();
        assert!(missing.contains("'llama.block_count'"), "{missing}");
        let wrong = m.u64("neg").unwrap_err().to_string();
        assert!(
            wrong.contains("'neg'") && wrong.contains("non-negative"),
            "{wrong}"
        );
    }
}
