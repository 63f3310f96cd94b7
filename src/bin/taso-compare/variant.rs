//! The compared methods: built-in ones and user-defined variants, and each one's lr grid.

use anyhow::{bail, Context, Result};
use std::str::FromStr;

/// A compared method: its name and the config overrides that make it.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub sets: Vec<String>,
}

const BUILT_IN: &[(&str, &[&str])] = &[
    ("taso", &["run.method=taso"]),
    ("lora-r1", &["run.method=lora", "regions.rank=1"]),
    ("lora-r8", &["run.method=lora", "regions.rank=8"]),
    ("random-regions", &["run.method=random-regions"]),
    ("bitfit", &["run.method=bitfit"]),
    ("full", &["run.method=full"]),
    ("head-only", &["run.method=head-only"]),
];

impl Variant {
    /// The method called `name`: a `--variant` of that name, else a built-in one.
    pub fn find(name: &str, variants: &[Variant]) -> Result<Variant> {
        if let Some(v) = variants.iter().find(|v| v.name == name) {
            return Ok(v.clone());
        }
        let (name, sets) = BUILT_IN.iter().find(|(n, _)| *n == name).with_context(|| {
            let known: Vec<&str> = BUILT_IN.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown method `{name}`; choose from {} or define it with --variant",
                known.join(", ")
            )
        })?;
        Ok(Variant {
            name: name.to_string(),
            sets: sets.iter().map(|s| s.to_string()).collect(),
        })
    }
}

/// `NAME=section.key=value;section.key=value`.
impl FromStr for Variant {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let (name, sets) = text
            .split_once('=')
            .with_context(|| format!("`{text}`: expected NAME=section.key=value;..."))?;
        let name = name.trim();
        if name.is_empty() || name.contains(['/', ' ']) {
            bail!("`{text}`: the variant name must be a plain word (it names run folders)");
        }
        let sets: Vec<String> = sets
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        if let Some(bad) = sets.iter().find(|s| !s.contains('=')) {
            bail!("`{text}`: `{bad}` is not section.key=value");
        }
        Ok(Variant {
            name: name.to_string(),
            sets,
        })
    }
}

/// A method's own learning-rate grid: `METHOD=lr,lr,...`.
#[derive(Clone, Debug)]
pub struct MethodLrs {
    pub method: String,
    pub lrs: Vec<f64>,
}

impl FromStr for MethodLrs {
    type Err = anyhow::Error;

    fn from_str(text: &str) -> Result<Self> {
        let (method, lrs) = text
            .split_once('=')
            .with_context(|| format!("`{text}`: expected METHOD=lr,lr,..."))?;
        let lrs = lrs
            .split(',')
            .map(|lr| {
                lr.trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| *v > 0.0 && v.is_finite())
                    .with_context(|| format!("`{text}`: `{lr}` is not a positive learning rate"))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(MethodLrs {
            method: method.trim().to_string(),
            lrs,
        })
    }
}

/// The grid for `method`: its own `--method-lrs`, else `--lrs`, else the config's lr.
pub fn grid_for(method: &str, own: &[MethodLrs], shared: &[f64], default_lr: f64) -> Vec<f64> {
    if let Some(m) = own.iter().find(|m| m.method == method) {
        m.lrs.clone()
    } else if shared.is_empty() {
        vec![default_lr]
    } else {
        shared.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_variants_and_grids() {
        let v: Variant = "taso-global=run.method=taso; regions.allocation=global"
            .parse()
            .unwrap();
        assert_eq!(v.name, "taso-global");
        assert_eq!(v.sets, ["run.method=taso", "regions.allocation=global"]);
        assert!("no-sets-here".parse::<Variant>().is_err());
        assert!("a=b".parse::<Variant>().is_err());
        let own: MethodLrs = "full=5e-5,1e-4".parse().unwrap();
        assert_eq!(
            grid_for("full", std::slice::from_ref(&own), &[1e-3], 5e-4),
            [5e-5, 1e-4]
        );
        assert_eq!(grid_for("taso", &[own], &[1e-3], 5e-4), [1e-3]);
        assert_eq!(grid_for("taso", &[], &[], 5e-4), [5e-4]);
        assert!("full=0,x".parse::<MethodLrs>().is_err());
        let found = Variant::find("taso-global", &[v]).unwrap();
        assert_eq!(found.sets.len(), 2);
        assert!(Variant::find("nope", &[]).is_err());
    }
}
