//! The one place that picks the burn device (`--device`). Model, training and inference code
//! take a `&Device` and never ask which backend is behind it.

use std::panic::{self, AssertUnwindSafe};

use burn::tensor::Tensor;
use clap::ValueEnum;
use fracdet_train::Device;

/// Where the networks run. Every choice exists in every build so that `--help` reads the
/// same everywhere; a backend whose Cargo feature was not compiled in is an error, not a
/// silent fallback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceChoice {
    /// The first GPU backend compiled in (cuda, then wgpu), else the CPU.
    Auto,
    /// Pure-Rust CPU backend (burn flex); always compiled in.
    #[value(alias = "flex")]
    Cpu,
    /// NVIDIA GPU 0 through CUDA (feature `cuda`).
    Cuda,
    /// The best GPU wgpu finds: Vulkan, Metal or DX12 (feature `wgpu`).
    Wgpu,
    /// LibTorch on the CPU (feature `tch`).
    Tch,
    /// LibTorch on CUDA GPU 0 (feature `tch`, a CUDA build of libtorch).
    TchCuda,
}

impl DeviceChoice {
    fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Cpu => "cpu",
            Self::Cuda => "cuda",
            Self::Wgpu => "wgpu",
            Self::Tch => "tch",
            Self::TchCuda => "tch-cuda",
        }
    }

    /// `auto` resolved to a concrete backend of this build.
    fn resolve(self) -> Self {
        if self != Self::Auto {
            return self;
        }
        if cfg!(feature = "cuda") {
            Self::Cuda
        } else if cfg!(feature = "wgpu") {
            Self::Wgpu
        } else {
            Self::Cpu
        }
    }
}

/// The device for `choice`, started and checked with one tiny tensor operation so that a
/// missing driver or GPU is a one-line error here rather than a panic mid-run.
pub fn select(choice: DeviceChoice) -> anyhow::Result<Device> {
    let resolved = choice.resolve();
    let device = construct(resolved)?;
    if let Err(reason) = probe(&device) {
        anyhow::bail!(
            "--device {}: the backend failed to start: {reason}",
            resolved.name()
        );
    }
    tracing::info!(requested = choice.name(), device = ?device, "device");
    Ok(device)
}

fn construct(choice: DeviceChoice) -> anyhow::Result<Device> {
    #[allow(unused_variables)] // Unused when every backend is compiled in.
    let missing = |feature: &str| {
        anyhow::anyhow!(
            "--device {} needs the `{feature}` feature, which this build lacks; rebuild with \
             `cargo build --release -p fracdet-cli --features {feature}` (see README, Backends)",
            choice.name()
        )
    };
    match choice {
        DeviceChoice::Auto | DeviceChoice::Cpu => Ok(Device::flex()),
        DeviceChoice::Cuda => {
            #[cfg(feature = "cuda")]
            return Ok(Device::cuda(0));
            #[cfg(not(feature = "cuda"))]
            return Err(missing("cuda"));
        }
        DeviceChoice::Wgpu => {
            #[cfg(feature = "wgpu")]
            return Ok(Device::wgpu(burn::tensor::DeviceKind::default()));
            #[cfg(not(feature = "wgpu"))]
            return Err(missing("wgpu"));
        }
        // burn 0.22 deprecates its LibTorch backend; it is here on purpose, as a reference
        // implementation to compare the other backends with.
        #[allow(deprecated)]
        DeviceChoice::Tch => {
            #[cfg(feature = "tch")]
            return Ok(Device::libtorch());
            #[cfg(not(feature = "tch"))]
            return Err(missing("tch"));
        }
        #[allow(deprecated)]
        DeviceChoice::TchCuda => {
            #[cfg(feature = "tch")]
            return Ok(Device::libtorch_cuda(0));
            #[cfg(not(feature = "tch"))]
            return Err(missing("tch"));
        }
    }
}

/// Runs one reduction on `device`. Backends report a missing driver or adapter by
/// panicking, so the panic is caught (and kept off stderr) and returned as text.
fn probe(device: &Device) -> Result<(), String> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0], device);
        x.sum().into_scalar::<f32>()
    }));
    panic::set_hook(hook);
    match outcome {
        Ok(sum) if (sum - 6.0).abs() < 1e-6 => Ok(()),
        Ok(sum) => Err(format!("1 + 2 + 3 came back as {sum}")),
        Err(payload) => Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "unknown panic".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_flex_and_works() {
        let device = select(DeviceChoice::Cpu).unwrap();
        assert_eq!(device, Device::flex());
    }

    #[test]
    fn auto_without_gpu_features_is_flex() {
        if cfg!(any(feature = "cuda", feature = "wgpu")) {
            assert_ne!(DeviceChoice::Auto.resolve(), DeviceChoice::Cpu);
        } else {
            assert_eq!(select(DeviceChoice::Auto).unwrap(), Device::flex());
        }
    }

    #[test]
    fn a_backend_not_compiled_in_is_a_clear_error() {
        let cases = [
            (DeviceChoice::Cuda, "cuda", cfg!(feature = "cuda")),
            (DeviceChoice::Wgpu, "wgpu", cfg!(feature = "wgpu")),
            (DeviceChoice::Tch, "tch", cfg!(feature = "tch")),
            (DeviceChoice::TchCuda, "tch", cfg!(feature = "tch")),
        ];
        for (choice, feature, compiled) in cases {
            if compiled {
                continue;
            }
            let err = construct(choice).unwrap_err().to_string();
            assert!(
                err.contains(&format!("--features {feature}")),
                "{choice:?}: {err}"
            );
        }
    }
}
