//! Residual maps from the healthy-bone inpainter (part 1 of issue #5) as a
//! [`ResidualSource`]: `|x − G(x)|` per patch scale, at the working size.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use fracdet_model::mpr::{Inpainter, residual_maps};

use crate::error::{Result, RunError};
use crate::inpainter::load_inpainter;
use crate::mpr::config::MprConfig;
use crate::mpr::residuals::{NoResiduals, ResidualSource};

/// An inpainter in inference mode with the patch scales to mask at.
pub struct InpainterResiduals {
    g: Inpainter,
    scales: Vec<usize>,
    device: Device,
    origin: String,
}

impl InpainterResiduals {
    /// `g` (any mode; it is put in inference mode here) on `device`, masking squares of
    /// each side in `scales`; `origin` names it (the inpainter's run directory) so that
    /// cached maps of another inpainter are not reused.
    pub fn new(g: Inpainter, scales: Vec<usize>, device: Device, origin: String) -> Self {
        Self {
            g: g.valid(),
            scales,
            device,
            origin,
        }
    }
}

/// The residual source an MPR run was trained with: none when its config has no residual
/// scales, else the inpainter in the run directory its config names (best weights),
/// masking at the config's scales.
pub fn residual_source_for(config: &MprConfig, device: &Device) -> Result<Box<dyn ResidualSource>> {
    if config.residual_scales.is_empty() {
        return Ok(Box::new(NoResiduals));
    }
    let dir = config.inpainter.as_ref().ok_or_else(|| {
        RunError::Config("the run has residual scales but names no inpainter".into())
    })?;
    let (g, trained) = load_inpainter(dir, device)?;
    if trained.size != config.size {
        tracing::warn!(
            "the inpainter in {} was trained at {} px, the detector works at {} px",
            dir.display(),
            trained.size,
            config.size
        );
    }
    Ok(Box::new(InpainterResiduals::new(
        g,
        config.residual_scales.clone(),
        device.clone(),
        dir.display().to_string(),
    )))
}

impl ResidualSource for InpainterResiduals {
    fn scales(&self) -> &[usize] {
        &self.scales
    }

    fn residuals(&self, canvases: &[Vec<f32>], size: u32) -> Result<Vec<Vec<f32>>> {
        let side = size as usize;
        let plane = side * side;
        if canvases.is_empty() {
            return Ok(Vec::new());
        }
        if canvases.iter().any(|c| c.len() != plane) {
            return Err(RunError::Input(format!(
                "a canvas is not {side}x{side} for the residual maps"
            )));
        }
        let data: Vec<f32> = canvases.iter().flatten().copied().collect();
        let x = Tensor::<4>::from_data(
            TensorData::new(data, [canvases.len(), 1, side, side]),
            &self.device,
        );
        let maps = residual_maps(&self.g, x, &self.scales)?;
        let values = crate::tensors::tensor_values(maps)?;
        let per = self.scales.len() * plane;
        Ok(values.chunks(per).map(<[f32]>::to_vec).collect())
    }

    fn describe(&self) -> String {
        format!("inpainter {} scales {:?}", self.origin, self.scales)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fracdet_model::mpr::InpainterConfig;

    #[test]
    fn one_map_per_scale_per_canvas() {
        let device = Device::flex();
        let g = InpainterConfig::new().with_width(8).init(&device).unwrap();
        let src = InpainterResiduals::new(g, vec![16, 32], device, "test".into());
        let canvases: Vec<Vec<f32>> = (0..3)
            .map(|k| {
                (0..64 * 64)
                    .map(|i| ((i * (k + 1)) % 17) as f32 / 16.0)
                    .collect()
            })
            .collect();
        let maps = src.residuals(&canvases, 64).unwrap();
        assert_eq!(maps.len(), 3);
        for m in &maps {
            assert_eq!(m.len(), 2 * 64 * 64);
            assert!(
                m.iter().all(|v| (0.0..=1.0).contains(v)),
                "|x - G(x)| in [0, 1]"
            );
        }
        assert!(src.residuals(&[vec![0.0; 10]], 64).is_err());
        assert!(src.describe().contains("test"));
    }
}
