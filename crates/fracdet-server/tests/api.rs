//! The HTTP API against the bundled model and the sample radiographs: good images (raw,
//! multipart, DICOM), bad bodies, limits, concurrency and shutdown.

mod common;

use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::http;
use fracdet_server::{ServerConfig, router};
use serde_json::Value;
use tower::ServiceExt;

const FRACTURED: &str = "IMG0002316.jpg";
const NORMAL: &str = "IMG0000254.jpg";

fn app(config: ServerConfig) -> axum::Router {
    router(common::detector(), common::device(), config)
}

fn request(method: &str, uri: &str, content_type: Option<&str>, body: Vec<u8>) -> Request<Body> {
    let mut r = Request::builder().method(method).uri(uri);
    if let Some(t) = content_type {
        r = r.header(header::CONTENT_TYPE, t);
    }
    r.body(Body::from(body)).unwrap()
}

/// Sends one request through the router; returns the status, headers and JSON body
/// (every answer of the API is JSON, errors included).
async fn call(app: axum::Router, req: Request<Body>) -> (StatusCode, header::HeaderMap, Value) {
    let response = app.oneshot(req).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "HTTP {status}: body is not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
    });
    (status, headers, json)
}

async fn detect(config: ServerConfig, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let (status, _, json) = call(
        app(config),
        request("POST", "/v1/detect", Some(content_type), body),
    )
    .await;
    (status, json)
}

fn error_of(json: &Value) -> &str {
    json["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error message in {json}"))
}

fn png_of(json: &Value, field: &str) -> image::DynamicImage {
    let bytes = STANDARD
        .decode(json[field].as_str().unwrap())
        .expect("base64");
    image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).expect("PNG")
}

/// A multipart/form-data body with one file field.
fn multipart(field: &str, file_name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "fracdet-test-boundary-7d1c";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; \
         filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fractured_jpeg_gives_probability_finding_boxes_and_overlay() {
    let (status, r) = detect(
        ServerConfig::default(),
        "image/jpeg",
        common::sample(FRACTURED),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let p = r["probability"].as_f64().unwrap();
    let expected = common::reference_probability(FRACTURED);
    assert!((p - expected).abs() < 0.01, "{p} vs {expected}");
    assert_eq!(r["finding"], "likely");
    assert_eq!(r["flagged"], true);
    assert_eq!(r["format"], "JPEG");
    assert_eq!(
        (r["width"].as_u64(), r["height"].as_u64()),
        (Some(819), Some(1024))
    );
    assert_eq!(r["decisions"]["high_sensitivity"]["positive"], true);
    assert_eq!(r["model"], common::detector().name());
    assert!(r["notice"].as_str().unwrap().contains("not for standalone"));

    let boxes = r["boxes"].as_array().unwrap();
    assert!(!boxes.is_empty(), "a flagged image has boxes: {r}");
    for b in boxes {
        let (x0, x1) = (b["x_min"].as_f64().unwrap(), b["x_max"].as_f64().unwrap());
        let (y0, y1) = (b["y_min"].as_f64().unwrap(), b["y_max"].as_f64().unwrap());
        assert!(0.0 <= x0 && x0 < x1 && x1 <= 819.0 && 0.0 <= y0 && y0 < y1 && y1 <= 1024.0);
    }
    let hm = &r["heatmap"];
    let (hw, hh) = (
        hm["width"].as_u64().unwrap(),
        hm["height"].as_u64().unwrap(),
    );
    assert_eq!(hm["values"].as_array().unwrap().len() as u64, hw * hh);
    assert_eq!(hm["transform"]["src_width"], 819);

    // Both PNGs at preview size (the sample is already under 1024 px).
    let preview = (
        r["preview"]["width"].as_u64().unwrap() as u32,
        r["preview"]["height"].as_u64().unwrap() as u32,
    );
    assert_eq!(preview, (819, 1024));
    let grey = png_of(&r, "image_png");
    assert_eq!((grey.width(), grey.height()), preview);
    let overlay = png_of(&r, "overlay_png").to_rgb8();
    assert_eq!(overlay.dimensions(), preview);
    let red = overlay
        .pixels()
        .filter(|p| p[0] == 255 && p[1] == 40 && p[2] == 40)
        .count();
    assert!(red > 500, "box outlines drawn: {red} box-red pixels");
    let coloured = overlay
        .pixels()
        .filter(|p| p[0].abs_diff(p[2]) > 30)
        .count();
    assert!(coloured > red, "heatmap drawn: {coloured} coloured pixels");
    assert!(r["elapsed_ms"].as_f64().unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn normal_image_is_negative_with_a_plain_overlay() {
    let (status, r) = detect(
        ServerConfig::default(),
        "application/octet-stream",
        common::sample(NORMAL),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let p = r["probability"].as_f64().unwrap();
    assert!(
        (p - common::reference_probability(NORMAL)).abs() < 0.01,
        "{p}"
    );
    assert_eq!(r["finding"], "negative");
    assert_eq!(r["flagged"], false);
    assert!(r["boxes"].as_array().unwrap().is_empty());
    let overlay = png_of(&r, "overlay_png").to_rgb8();
    assert!(
        overlay.pixels().all(|p| p[0] == p[1] && p[1] == p[2]),
        "an image the model does not flag gets no heatmap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_that_is_no_radiograph_is_not_assessed() {
    // A colour photograph-like JPEG and a noise PNG: 200, no probability, no call.
    let photo = image::RgbImage::from_fn(200, 150, |x, y| {
        image::Rgb([(x % 256) as u8, 90, (200 - y) as u8])
    });
    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::DynamicImage::from(photo)
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let mut x = 7u32;
    let noise = image::GrayImage::from_fn(160, 120, |_, _| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image::Luma([(x >> 23) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image::DynamicImage::from(noise)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let (jpeg, png) = (jpeg.into_inner(), png.into_inner());
    let body_again = |reason: &str| {
        if reason == "colour" {
            jpeg.clone()
        } else {
            png.clone()
        }
    };
    for (body, reason) in [(jpeg.clone(), "colour"), (png.clone(), "no_structure")] {
        let (status, r) = detect(ServerConfig::default(), "application/octet-stream", body).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert_eq!(r["finding"], "not_assessed", "{r}");
        assert_eq!(r["not_assessed"]["reason"], reason, "{r}");
        assert!(
            r["not_assessed"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(
            r["probability"].is_null() && r["decisions"].is_null(),
            "{r}"
        );
        assert_eq!(r["flagged"], false);
        assert!(r["boxes"].as_array().unwrap().is_empty());
        assert!(r["heatmap"].is_null());
        png_of(&r, "image_png");
        assert!(r.get("assessed_anyway").is_none(), "{r}");

        // --assess-anyway: a finding all the same, with the check's objection beside it.
        let anyway = ServerConfig {
            assess_anyway: true,
            ..ServerConfig::default()
        };
        let (status, r) = detect(anyway, "application/octet-stream", body_again(reason)).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        assert!(r["probability"].is_number(), "{r}");
        assert_ne!(r["finding"], "not_assessed", "{r}");
        assert!(r.get("not_assessed").is_none(), "{r}");
        assert_eq!(r["assessed_anyway"]["reason"], reason, "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multipart_upload_and_missing_content_type_read_like_the_raw_body() {
    let bytes = common::sample(FRACTURED);
    let (_, raw) = detect(ServerConfig::default(), "image/jpeg", bytes.clone()).await;
    let (content_type, body) = multipart("file", "Doe^Jane.jpg", &bytes);
    let (status, form) = detect(ServerConfig::default(), &content_type, body).await;
    assert_eq!(status, StatusCode::OK, "{form}");
    assert_eq!(form["probability"], raw["probability"]);
    let (status, _, bare) = call(
        app(ServerConfig::default()),
        request("POST", "/v1/detect", None, bytes),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{bare}");
    assert_eq!(bare["probability"], raw["probability"]);

    let (content_type, body) = multipart("other", "", b"no file here");
    let body = String::from_utf8(body)
        .unwrap()
        .replace("; filename=\"\"", "");
    let (status, r) = detect(ServerConfig::default(), &content_type, body.into_bytes()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    assert!(error_of(&r).contains("no file"), "{r}");
}

/// A multipart/form-data body with one `file` field per entry.
fn multipart_files(files: &[&[u8]]) -> (String, Vec<u8>) {
    let boundary = "fracdet-test-boundary-9e2a";
    let mut body = Vec::new();
    for (i, bytes) in files.iter().enumerate() {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; \
                 filename=\"{i}.dcm\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Noise: a DICOM the applicability check refuses (no structure).
fn noise(seed: u32) -> image::GrayImage {
    let mut x = seed;
    image::GrayImage::from_fn(160, 120, |_, _| {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        image::Luma([(x >> 23) as u8])
    })
}

/// Several files posted together: an answer per file as if each came alone, and a study
/// finding per Study Instance UID, decided by its most suspicious assessed image and
/// naming it; a refused image never decides, a study of refused images only is not
/// assessed, and a JPEG belongs to no study (as in `detect`'s studies.csv).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_posted_together_get_a_finding_per_study() {
    let grey = |name| {
        image::load_from_memory(&common::sample(name))
            .unwrap()
            .to_luma8()
    };
    let (a, b) = (
        "1.2.826.0.1.3680043.2.1125.501",
        "1.2.826.0.1.3680043.2.1125.502",
    );
    let files: Vec<Vec<u8>> = vec![
        common::grey_as_dicom(grey(NORMAL), &format!("{a}.1"), Some(a)),
        common::grey_as_dicom(noise(7), &format!("{a}.2"), Some(a)),
        common::grey_as_dicom(grey(FRACTURED), &format!("{a}.3"), Some(a)),
        common::sample(FRACTURED),
        common::grey_as_dicom(noise(11), &format!("{b}.1"), Some(b)),
    ];
    let refs: Vec<&[u8]> = files.iter().map(Vec::as_slice).collect();
    let (content_type, body) = multipart_files(&refs);
    let (status, r) = detect(ServerConfig::default(), &content_type, body).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    let images = r["images"].as_array().expect("an answer per file");
    assert_eq!(images.len(), 5);
    let (_, alone) = detect(
        ServerConfig::default(),
        "image/jpeg",
        common::sample(FRACTURED),
    )
    .await;
    assert_eq!(images[3]["probability"], alone["probability"]);
    assert!(
        images[3].get("study_instance_uid").is_none(),
        "{}",
        images[3]
    );
    assert_eq!(images[1]["finding"], "not_assessed");
    assert_eq!(images[2]["sop_instance_uid"], format!("{a}.3"));

    let studies = r["studies"].as_array().unwrap();
    assert_eq!(studies.len(), 2, "{r}");
    let (sa, sb) = (&studies[0], &studies[1]);
    assert_eq!(sa["study_instance_uid"], a);
    assert_eq!(sa["images"], serde_json::json!([0, 1, 2]));
    // The fractured image is the more suspicious assessed one.
    let p = |i: usize| images[i]["probability"].as_f64().unwrap();
    assert!(p(2) > p(0), "{} vs {}", p(2), p(0));
    assert_eq!(sa["decided_by"], 2, "{sa}");
    assert_eq!(sa["decided_by_sop_instance_uid"], format!("{a}.3"));
    assert_eq!(sa["finding"], images[2]["finding"]);
    assert_eq!(sa["probability"], images[2]["probability"]);
    assert_eq!(sb["study_instance_uid"], b);
    assert_eq!(sb["finding"], "not_assessed", "{sb}");
    assert!(
        sb["decided_by"].is_null() && sb["probability"].is_null(),
        "{sb}"
    );
    let text = r.to_string();
    assert!(!text.contains(common::PATIENT_NAME) && !text.contains(common::PATIENT_ID));

    // More files than --max-files: 413, before any is analysed.
    let few = ServerConfig {
        max_files: 2,
        ..ServerConfig::default()
    };
    let (content_type, body) = multipart_files(&refs[..3]);
    let (status, r) = detect(few, &content_type, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert!(error_of(&r).contains("more than 2 files"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dicom_reads_like_the_jpeg_and_never_echoes_the_header() {
    let (_, jpeg) = detect(
        ServerConfig::default(),
        "image/jpeg",
        common::sample(FRACTURED),
    )
    .await;
    let dicom = common::sample_as_dicom(FRACTURED);
    let response = app(ServerConfig::default())
        .oneshot(request(
            "POST",
            "/v1/detect",
            Some("application/dicom"),
            dicom.clone(),
        ))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let text = String::from_utf8(text.to_vec()).unwrap();
    assert!(!text.contains(common::PATIENT_NAME) && !text.contains(common::PATIENT_ID));
    let r: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(r["format"], "DICOM");
    let (pd, pj) = (
        r["probability"].as_f64().unwrap(),
        jpeg["probability"].as_f64().unwrap(),
    );
    assert!((pd - pj).abs() < 1e-3, "DICOM {pd} vs JPEG {pj}");
    assert_eq!(r["finding"], jpeg["finding"]);

    // Cut inside the pixel data: refused with the reader's message, still no header values.
    let (status, r) = detect(
        ServerConfig::default(),
        "application/dicom",
        dicom[..dicom.len() / 2].to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{r}");
    let message = error_of(&r);
    assert!(message.starts_with("upload:"), "{message}");
    assert!(!message.contains(common::PATIENT_NAME) && !message.contains(common::PATIENT_ID));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_bodies_are_422_or_400_with_the_readers_message() {
    let jpeg = common::sample(FRACTURED);
    let mut png_header = b"\x89PNG\r\n\x1a\n".to_vec();
    png_header.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', 1, 2, 3]);
    let cases: [(&str, Vec<u8>, StatusCode, &str); 4] = [
        (
            "truncated JPEG",
            jpeg[..jpeg.len() / 3].to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "JPEG",
        ),
        (
            "not an image",
            b"GIF89a these are not pixels".to_vec(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a PNG, JPEG or DICOM",
        ),
        (
            "broken PNG header",
            png_header,
            StatusCode::UNPROCESSABLE_ENTITY,
            "PNG",
        ),
        ("empty", Vec::new(), StatusCode::BAD_REQUEST, "empty"),
    ];
    for (what, body, want, needle) in cases {
        let (status, r) = detect(ServerConfig::default(), "image/jpeg", body).await;
        assert_eq!(status, want, "{what}: {r}");
        assert!(error_of(&r).contains(needle), "{what}: {r}");
    }
    // The server is unharmed: the next good image is answered.
    let (status, _) = detect(ServerConfig::default(), "image/jpeg", jpeg).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversize_bodies_and_images_are_413() {
    let small = ServerConfig {
        body_limit: 10_000,
        ..ServerConfig::default()
    };
    let bytes = common::sample(FRACTURED);
    let (status, r) = detect(small.clone(), "image/jpeg", bytes.clone()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert!(error_of(&r).contains("limit of 10000 bytes"), "{r}");

    let (content_type, body) = multipart("file", "x.jpg", &bytes);
    let (status, r) = detect(small.clone(), &content_type, body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");

    // A body of unknown length (chunked) is cut off at the limit too.
    let stream = chunks(bytes.clone());
    let (status, _, r) = call(
        app(small),
        Request::builder()
            .method("POST")
            .uri("/v1/detect")
            .header(header::CONTENT_TYPE, "image/jpeg")
            .body(Body::from_stream(stream))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");

    // Within the body limit but over the pixel limit: refused before decoding.
    let few_pixels = ServerConfig {
        max_pixels: 10_000,
        ..ServerConfig::default()
    };
    let (status, r) = detect(few_pixels, "image/jpeg", bytes).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{r}");
    assert!(error_of(&r).contains("over the limit"), "{r}");
}

/// The bytes in 4 KiB chunks, as a body stream without a length.
fn chunks(
    bytes: Vec<u8>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + 'static {
    let chunks: Vec<_> = bytes.chunks(4096).map(|c| Ok(c.to_vec())).collect();
    futures_util::stream::iter(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_types_are_415() {
    for content_type in [
        "text/plain",
        "application/json",
        "application/x-www-form-urlencoded",
    ] {
        let (status, r) = detect(
            ServerConfig::default(),
            content_type,
            common::sample(FRACTURED),
        )
        .await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{r}");
        assert!(error_of(&r).contains(content_type), "{r}");
        assert!(error_of(&r).contains("multipart/form-data"), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_page_and_unknown_routes() {
    let (status, _, h) = call(
        app(ServerConfig::default()),
        request("GET", "/healthz", None, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h["status"], "ok");
    assert_eq!(h["model"], common::detector().name());
    assert_eq!(h["in_flight"], 0);
    assert_eq!(h["uploading"], 0);
    assert_eq!(h["max_uploads"], ServerConfig::default().max_uploads);

    let response = app(ServerConfig::default())
        .oneshot(request("GET", "/", None, vec![]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let page = to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let page = String::from_utf8(page.to_vec()).unwrap();
    assert!(page.contains("not for standalone diagnosis"));
    assert!(page.contains("/v1/detect") && page.contains("type=\"file\""));
    for external in ["src=\"http", "href=\"http", "url(http", "@import"] {
        assert!(!page.contains(external), "the page loads nothing external");
    }

    let (status, _, r) = call(
        app(ServerConfig::default()),
        request("GET", "/v2/nothing", None, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(error_of(&r).contains("POST /v1/detect"));
    let (status, _, r) = call(
        app(ServerConfig::default()),
        request("GET", "/v1/detect", None, vec![]),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(error_of(&r).contains("POST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_the_time_limit_is_504() {
    let hasty = ServerConfig {
        request_timeout: Duration::from_millis(1),
        ..ServerConfig::default()
    };
    let (status, r) = detect(hasty, "image/jpeg", common::sample(FRACTURED)).await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{r}");
    assert!(error_of(&r).contains("limit of 1 ms"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_full_the_next_request_is_503_and_capacity_returns() {
    let app = app(ServerConfig {
        max_concurrent: 1,
        workers: 1,
        ..ServerConfig::default()
    });
    let bytes = common::sample(FRACTURED);
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (app, bytes) = (app.clone(), bytes.clone());
            tokio::spawn(async move {
                call(
                    app,
                    request("POST", "/v1/detect", Some("image/jpeg"), bytes),
                )
                .await
            })
        })
        .collect();
    let mut ok = 0;
    let mut busy = 0;
    for c in calls {
        let (status, headers, r) = c.await.unwrap();
        match status {
            StatusCode::OK => ok += 1,
            StatusCode::SERVICE_UNAVAILABLE => {
                busy += 1;
                assert!(error_of(&r).contains("busy"), "{r}");
                assert_eq!(headers[header::RETRY_AFTER], "1");
                assert_eq!(headers[header::CONNECTION], "close");
            }
            other => panic!("unexpected {other}: {r}"),
        }
    }
    assert!(ok >= 1 && busy >= 1, "{ok} answered, {busy} turned away");
    let (status, _, r) = call(
        app,
        request("POST", "/v1/detect", Some("image/jpeg"), bytes),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "capacity came back: {r}");
}

/// Six different radiographs at once over real sockets: every answer is the one for its
/// own image (the shared model keeps no state between requests).
#[test]
fn concurrent_requests_over_loopback_get_their_own_answers() {
    let names = [
        "IMG0000065.jpg",
        "IMG0000200.jpg",
        "IMG0000254.jpg",
        "IMG0002316.jpg",
        "IMG0002319.jpg",
        "IMG0002321.jpg",
    ];
    let server = common::Running::start(ServerConfig {
        max_concurrent: 8,
        workers: 2,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let threads: Vec<_> = names
        .iter()
        .map(|&name| {
            std::thread::spawn(move || {
                let reply =
                    http::post(addr, "/v1/detect", "image/jpeg", &common::sample(name)).unwrap();
                (name, reply)
            })
        })
        .collect();
    for t in threads {
        let (name, reply) = t.join().unwrap();
        assert_eq!(reply.status, 200, "{name}");
        let p = reply.json()["probability"].as_f64().unwrap();
        let expected = common::reference_probability(name);
        assert!((p - expected).abs() < 0.01, "{name}: {p} vs {expected}");
    }
    let health = http::get(addr, "/healthz").unwrap();
    assert_eq!(health.json()["in_flight"], 0);
    server.stop().expect("graceful shutdown");
}

/// With room for one request, several at once over real sockets: each gets 200 or a 503
/// JSON answer (the client's `Expect: 100-continue` means a turned-away upload is never
/// sent), and at least one of each.
#[test]
fn a_full_server_turns_requests_away_over_loopback() {
    let server = common::Running::start(ServerConfig {
        max_concurrent: 1,
        workers: 1,
        ..ServerConfig::default()
    });
    let addr = server.addr;
    let bytes = std::sync::Arc::new(common::sample(FRACTURED));
    let threads: Vec<_> = (0..5)
        .map(|_| {
            let bytes = bytes.clone();
            std::thread::spawn(move || http::post(addr, "/v1/detect", "image/jpeg", &bytes))
        })
        .collect();
    let statuses: Vec<u16> = threads
        .into_iter()
        .map(|t| {
            let reply = t.join().unwrap().expect("an answer");
            let json = reply.json();
            if reply.status == 503 {
                assert!(error_of(&json).contains("busy"), "{json}");
            }
            reply.status
        })
        .collect();
    assert!(
        statuses.iter().all(|s| [200, 503].contains(s)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
    let reply = http::post(addr, "/v1/detect", "image/jpeg", &bytes).unwrap();
    assert_eq!(reply.status, 200);
}
