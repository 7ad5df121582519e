//! Helpers shared by the server tests: the bundled model, the sample radiographs, a DICOM
//! made from one of them in memory, and a server on a loopback port.
// Each test binary compiles its own copy of this module and uses only some of it.
#![allow(dead_code)]

pub mod http;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use burn::tensor::Device;
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};
use fracdet_detect::Detector;
use fracdet_server::ServerConfig;

/// Names that must never appear in an answer about the DICOM below.
pub const PATIENT_NAME: &str = "Doe^Jane";
pub const PATIENT_ID: &str = "SECRET-ID-123";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn device() -> Device {
    Device::flex()
}

/// The bundled default model (models/default), loaded once per test binary.
pub fn detector() -> Arc<Detector> {
    static DETECTOR: OnceLock<Arc<Detector>> = OnceLock::new();
    DETECTOR
        .get_or_init(|| {
            let dir = repo_root().join("models/default");
            Arc::new(Detector::open(&dir, &device()).expect("open models/default"))
        })
        .clone()
}

pub fn sample_path(name: &str) -> PathBuf {
    repo_root().join("samples").join(name)
}

pub fn sample(name: &str) -> Vec<u8> {
    std::fs::read(sample_path(name)).expect("read sample")
}

/// Probability recorded for `name` in the bundle's manifest at export time.
pub fn reference_probability(name: &str) -> f64 {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("models/default/model.json")).unwrap(),
    )
    .unwrap();
    manifest["reference"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["file"] == name)
        .unwrap_or_else(|| panic!("{name} not in the bundle's reference"))["probability"]
        .as_f64()
        .unwrap()
}

/// The pixels of sample `name` as an 8-bit MONOCHROME2 DICOM file (explicit VR little
/// endian) with a window that maps stored value v to v / 255, so it reads exactly like the
/// JPEG; the header carries a patient name and ID the server must never echo.
pub fn sample_as_dicom(name: &str) -> Vec<u8> {
    let grey = image::load_from_memory(&sample(name))
        .expect("decode sample")
        .to_luma8();
    grey_as_dicom(grey, "1.2.826.0.1.3680043.2.1125.99", None)
}

/// `grey` as such a DICOM file, instance `sop`, in `study` when given.
#[allow(dead_code)]
pub fn grey_as_dicom(grey: image::GrayImage, sop: &str, study: Option<&str>) -> Vec<u8> {
    let (w, h) = grey.dimensions();
    let text = |tag, vr, s: &str| DataElement::new(tag, vr, PrimitiveValue::from(s));
    let us = |tag, v: u16| DataElement::new(tag, VR::US, PrimitiveValue::from(v));
    let elements = vec![
        text(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.1.1"),
        text(tags::SOP_INSTANCE_UID, VR::UI, sop),
        text(tags::PATIENT_NAME, VR::PN, PATIENT_NAME),
        text(tags::PATIENT_ID, VR::LO, PATIENT_ID),
        us(tags::SAMPLES_PER_PIXEL, 1),
        text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
        us(tags::ROWS, h as u16),
        us(tags::COLUMNS, w as u16),
        us(tags::BITS_ALLOCATED, 8),
        us(tags::BITS_STORED, 8),
        us(tags::HIGH_BIT, 7),
        us(tags::PIXEL_REPRESENTATION, 0),
        text(tags::WINDOW_CENTER, VR::DS, "128"),
        text(tags::WINDOW_WIDTH, VR::DS, "256"),
        DataElement::new(
            tags::PIXEL_DATA,
            VR::OB,
            PrimitiveValue::U8(grey.into_raw().into()),
        ),
    ];
    let mut obj = InMemDicomObject::from_element_iter(elements);
    if let Some(study) = study {
        obj.put(text(tags::STUDY_INSTANCE_UID, VR::UI, study));
        obj.put(text(tags::MODALITY, VR::CS, "DX"));
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .expect("DICOM meta");
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).expect("encode DICOM");
    bytes
}

/// A server on a free loopback port, on its own runtime thread; stops when dropped.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    pub fn start(config: ServerConfig) -> Self {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).ok();
                let app = fracdet_server::router(detector(), device(), config.clone());
                fracdet_server::serve(listener, app, &config, async move {
                    stopped.await.ok();
                })
                .await
            })
        });
        let addr = addr_rx
            .recv_timeout(std::time::Duration::from_secs(120))
            .expect("server started");
        Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Asks for a graceful shutdown and waits for `serve` to return.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            stop.send(()).ok();
        }
        match self.thread.take() {
            Some(t) => t.join().expect("server thread panicked"),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
