//! What kind of training run a directory holds, told by one field: every `config.json` is
//! a [`RunConfig`], an enum tagged by `"kind"` (`classifier`, `mpr`, `inpainter`).
//!
//! Runs written before the tag existed are still read: a config without `"kind"` is an
//! inpainter run when it carries the old `"model": "mpr_inpainter"` marker and a classifier
//! run otherwise (MPR runs always said `"kind": "mpr"`). The next save writes the tag.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::config::{CONFIG_FILE, ClassifierConfig, save_run_config};
use crate::error::{Result, RunError};
use crate::inpainter::InpainterTrainConfig;
use crate::mpr::MprConfig;

/// The old marker of inpainter runs, from before the `kind` tag.
const LEGACY_INPAINTER_MODEL: &str = "mpr_inpainter";

/// A run directory's `config.json`, whatever the kind of run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RunConfig {
    Classifier(ClassifierConfig),
    Mpr(MprConfig),
    Inpainter(InpainterTrainConfig),
}

/// The kinds of run, without their settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Classifier,
    Mpr,
    Inpainter,
}

impl RunKind {
    /// The `kind` tag's value.
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Classifier => "classifier",
            RunKind::Mpr => "mpr",
            RunKind::Inpainter => "inpainter",
        }
    }

    /// The kind of run in `run_dir`, or `None` when it has no readable `config.json`; how
    /// commands that open every kind of run choose the reader.
    pub fn of(run_dir: &Path) -> Option<RunKind> {
        let bytes = std::fs::read(run_dir.join(CONFIG_FILE)).ok()?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
        kind_of(&value)
    }
}

impl std::fmt::Display for RunKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The kind a parsed config names, by the tag or, for older runs, by the legacy rule.
fn kind_of(value: &serde_json::Value) -> Option<RunKind> {
    let object = value.as_object()?;
    match object.get("kind").map(|k| k.as_str()) {
        Some(Some("classifier")) => Some(RunKind::Classifier),
        Some(Some("mpr")) => Some(RunKind::Mpr),
        Some(Some("inpainter")) => Some(RunKind::Inpainter),
        Some(_) => None,
        None if object.get("model").and_then(|m| m.as_str()) == Some(LEGACY_INPAINTER_MODEL) => {
            Some(RunKind::Inpainter)
        }
        None => Some(RunKind::Classifier),
    }
}

impl RunConfig {
    pub fn kind(&self) -> RunKind {
        match self {
            RunConfig::Classifier(_) => RunKind::Classifier,
            RunConfig::Mpr(_) => RunKind::Mpr,
            RunConfig::Inpainter(_) => RunKind::Inpainter,
        }
    }

    /// Parse a config, tagged or written before the tag.
    pub fn from_json(bytes: &[u8]) -> std::result::Result<RunConfig, String> {
        let mut value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let kind = kind_of(&value).ok_or_else(|| {
            format!(
                "unknown run kind {} (expected classifier, mpr or inpainter)",
                value.get("kind").unwrap_or(&serde_json::Value::Null)
            )
        })?;
        if let Some(object) = value.as_object_mut() {
            object.remove("model");
            object.insert("kind".into(), kind.name().into());
        }
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    /// Write `config.json` into `run_dir`, atomically.
    pub fn save(&self, run_dir: &Path) -> Result<()> {
        save_run_config(run_dir, self)
    }

    /// Read and validate the `config.json` of `run_dir`.
    pub fn load(run_dir: &Path) -> Result<RunConfig> {
        let path = run_dir.join(CONFIG_FILE);
        let bytes = std::fs::read(&path).map_err(|e| RunError::io(&path, e))?;
        let config = RunConfig::from_json(&bytes).map_err(|e| RunError::format(&path, e))?;
        config
            .validate()
            .map_err(|e| RunError::format(&path, e.to_string()))?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        match self {
            RunConfig::Classifier(c) => c.validate(),
            RunConfig::Mpr(c) => c.validate(),
            RunConfig::Inpainter(c) => c.validate(),
        }
    }
}

/// The settings of one kind of run, as a variant of [`RunConfig`].
pub(crate) trait OfKind: Clone + Sized {
    const KIND: RunKind;
    fn wrap(self) -> RunConfig;
    fn unwrap(config: RunConfig) -> Option<Self>;
}

macro_rules! of_kind {
    ($t:ty, $variant:ident) => {
        impl OfKind for $t {
            const KIND: RunKind = RunKind::$variant;
            fn wrap(self) -> RunConfig {
                RunConfig::$variant(self)
            }
            fn unwrap(config: RunConfig) -> Option<Self> {
                match config {
                    RunConfig::$variant(c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}
of_kind!(ClassifierConfig, Classifier);
of_kind!(MprConfig, Mpr);
of_kind!(InpainterTrainConfig, Inpainter);

/// Write `config` as the `config.json` of `run_dir`, tagged with its kind.
pub(crate) fn save_as<T: OfKind>(run_dir: &Path, config: &T) -> Result<()> {
    config.clone().wrap().save(run_dir)
}

/// Read the `config.json` of `run_dir` as a run of `T`'s kind; another kind is a format
/// error naming both.
pub(crate) fn load_as<T: OfKind>(run_dir: &Path) -> Result<T> {
    let config = RunConfig::load(run_dir)?;
    let kind = config.kind();
    T::unwrap(config).ok_or_else(|| {
        RunError::format(
            run_dir.join(CONFIG_FILE),
            format!("run kind {kind}, not {}", T::KIND),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InputSpec;

    fn write(dir: &Path, json: &serde_json::Value) {
        std::fs::write(dir.join(CONFIG_FILE), serde_json::to_vec(json).unwrap()).unwrap();
    }

    #[test]
    fn every_kind_saves_its_tag_and_loads_back() {
        let configs = [
            RunConfig::Classifier(ClassifierConfig::new("resnet18", InputSpec::imagenet(64))),
            RunConfig::Mpr(MprConfig::new(64, vec![16])),
            RunConfig::Inpainter(InpainterTrainConfig::new(64)),
        ];
        for config in configs {
            let dir = tempfile::tempdir().unwrap();
            config.save(dir.path()).unwrap();
            let json: serde_json::Value =
                serde_json::from_slice(&std::fs::read(dir.path().join(CONFIG_FILE)).unwrap())
                    .unwrap();
            assert_eq!(json["kind"], config.kind().name());
            assert_eq!(RunKind::of(dir.path()), Some(config.kind()));
            assert_eq!(RunConfig::load(dir.path()).unwrap(), config);
        }
    }

    #[test]
    fn runs_from_before_the_tag_are_read_by_the_legacy_rule() {
        let classifier = ClassifierConfig::new("resnet18", InputSpec::imagenet(64));
        let inpainter = InpainterTrainConfig::new(64);
        let mpr = MprConfig::new(64, vec![16]);
        // As the older versions wrote them: no tag for classifiers, a `model` marker for
        // inpainters, `"kind": "mpr"` (a field of the settings then) for MPR runs.
        let old_classifier = serde_json::to_value(&classifier).unwrap();
        let mut old_inpainter = serde_json::to_value(&inpainter).unwrap();
        old_inpainter["model"] = LEGACY_INPAINTER_MODEL.into();
        let mut old_mpr = serde_json::to_value(&mpr).unwrap();
        old_mpr["kind"] = "mpr".into();
        let old = [
            (old_classifier, RunConfig::Classifier(classifier)),
            (old_inpainter, RunConfig::Inpainter(inpainter)),
            (old_mpr, RunConfig::Mpr(mpr)),
        ];
        for (json, expected) in old {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), &json);
            assert_eq!(RunKind::of(dir.path()), Some(expected.kind()));
            assert_eq!(RunConfig::load(dir.path()).unwrap(), expected);
        }
    }

    #[test]
    fn a_run_of_another_kind_or_an_unknown_kind_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        RunConfig::Mpr(MprConfig::new(64, vec![16]))
            .save(dir.path())
            .unwrap();
        let err = load_as::<ClassifierConfig>(dir.path())
            .unwrap_err()
            .to_string();
        assert!(err.contains("run kind mpr, not classifier"), "{err}");

        write(dir.path(), &serde_json::json!({ "kind": "segmenter" }));
        assert_eq!(RunKind::of(dir.path()), None);
        let err = RunConfig::load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unknown run kind \"segmenter\""), "{err}");
    }
}
