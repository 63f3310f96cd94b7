//! The ggml tensor types this crate can dequantise, with their block geometry.

/// A supported ggml tensor type. Every type stores its values in blocks of
/// [`block_size`](Self::block_size) elements taking [`block_bytes`](Self::block_bytes) bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GgmlType {
    /// 32-bit float.
    F32,
    /// IEEE half float.
    F16,
    /// bfloat16.
    BF16,
    /// 32 values: f16 scale `d`, 32 × i8; `x = d·q`.
    Q8_0,
    /// 32 values: f16 scale `d`, 32 × 4-bit; `x = d·(q − 8)`.
    Q4_0,
    /// 32 values: f16 scale `d` and minimum `m`, 32 × 4-bit; `x = d·q + m`.
    Q4_1,
    /// 256 values in 8 sub-blocks of 32, each with a 6-bit scale and minimum; 4-bit quants.
    Q4K,
    /// 256 values in 16 sub-blocks of 16, each with an i8 scale; 6-bit quants.
    Q6K,
}

impl GgmlType {
    /// Every supported type.
    pub const ALL: [GgmlType; 8] = [
        GgmlType::F32,
        GgmlType::F16,
        GgmlType::BF16,
        GgmlType::Q8_0,
        GgmlType::Q4_0,
        GgmlType::Q4_1,
        GgmlType::Q4K,
        GgmlType::Q6K,
    ];

    /// The supported type with ggml type id `id`, if any.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        GgmlType::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The ggml type id.
    pub fn id(self) -> u32 {
        match self {
            GgmlType::F32 => 0,
            GgmlType::F16 => 1,
            GgmlType::Q4_0 => 2,
            GgmlType::Q4_1 => 3,
            GgmlType::Q8_0 => 8,
            GgmlType::Q4K => 12,
            GgmlType::Q6K => 14,
            GgmlType::BF16 => 30,
        }
    }

    /// Elements per block.
    pub fn block_size(self) -> usize {
        match self {
            GgmlType::F32 | GgmlType::F16 | GgmlType::BF16 => 1,
            GgmlType::Q8_0 | GgmlType::Q4_0 | GgmlType::Q4_1 => 32,
            GgmlType::Q4K | GgmlType::Q6K => 256,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            GgmlType::F32 => 4,
            GgmlType::F16 | GgmlType::BF16 => 2,
            GgmlType::Q8_0 => 2 + 32,
            GgmlType::Q4_0 => 2 + 16,
            GgmlType::Q4_1 => 2 + 2 + 16,
            GgmlType::Q4K => 2 + 2 + 12 + 128,
            GgmlType::Q6K => 128 + 64 + 16 + 2,
        }
    }

    /// The name ggml uses.
    pub fn name(self) -> &'static str {
        type_name(self.id())
    }
}

/// ggml's name for type id `id`, supported or not ("an unknown ggml type" past the known ids).
pub fn type_name(id: u32) -> &'static str {
    const NAMES: [&str; 31] = [
        "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL",
        "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    ];
    NAMES
        .get(id as usize)
        .copied()
        .unwrap_or("an unknown ggml type")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_names_match_ggml() {
        for ty in GgmlType::ALL {
            assert_eq!(GgmlType::from_id(ty.id()), Some(ty));
        }
        assert_eq!(GgmlType::Q4K.name(), "Q4_K");
        assert_eq!(GgmlType::BF16.name(), "BF16");
        assert_eq!(type_name(13), "Q5_K");
        assert_eq!(GgmlType::from_id(13), None);
    }
}
