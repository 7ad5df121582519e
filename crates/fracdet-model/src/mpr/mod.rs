//! MPR: masked patch re-drawing (issue #5). A GAN inpainter trained on non-fractured
//! radiographs only re-draws masked squares "as healthy bone"; where the bone's integrity
//! breaks, the re-drawing differs from the image, and the residual `|x − G(x)|` lights up.
//!
//! - [`inpainter`]: the generator G ([`Inpainter`]), masked image + mask in, image out;
//! - [`discriminator`]: spectrally normalised PatchGAN critics (local and global views);
//! - [`spectral_norm`]: [`SnConv2d`], spectral normalisation by power iteration;
//! - [`residual`]: the 3×3 phase masks and [`residual_maps`], one map per patch scale;
//! - [`baseline`]: [`blur_fill`], the normalised-convolution fill G must beat.
//!
//! Design and measured costs: `docs/mpr.md`.

pub mod baseline;
pub mod discriminator;
pub mod inpainter;
pub mod residual;
pub mod spectral_norm;

pub use baseline::blur_fill;
pub use discriminator::{Discriminator, DiscriminatorConfig};
pub use inpainter::{Inpainter, InpainterConfig};
pub use residual::{PHASES, Patch, phase_mask, phase_masks, phase_patches, residual_maps};
pub use spectral_norm::{SnConv2d, sn_conv2d};
