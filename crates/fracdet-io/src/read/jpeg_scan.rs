//! Proof that a JPEG holds every pixel it declares, before any decoder is trusted with it.
//!
//! Why: both JPEG decoders behind fracdet (zune-jpeg for files, jpeg-decoder inside
//! dicom-rs) treat the end of the entropy-coded data as an endless run of zero bits and
//! report success. The first half of a radiograph followed by `FF D9`, or a frame header
//! whose height was raised, decodes "fine", the missing part made up by the decoder; strict
//! modes do not help, since an end-of-image marker stops them silently. This walk decodes
//! the Huffman codes of every scan (no IDCT, no pixels) and fails when a scan runs out of
//! data before its last block, so a score is never computed on pixels the file lacks.
//!
//! Covered: Huffman-coded baseline, extended, progressive (spectral selection and
//! successive approximation) and lossless frames (SOF0-SOF3), restart intervals. Refused:
//! arithmetic coding and hierarchical frames, which neither decoder supports anyway.

/// Where a JPEG's coded data falls short, in words.
pub(crate) type Incomplete = String;

#[derive(Clone, Copy, Default)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    /// Blocks (or samples, lossless) across and down in this component's own grid.
    blocks_x: usize,
    blocks_y: usize,
    /// Set once a scan (the DC scan when progressive) has coded it.
    seen: bool,
}

/// A canonical Huffman table (ITU T.81 C and F.2.2.3).
#[derive(Clone)]
struct Huffman {
    /// For each code length 1..=16: the largest code, or -1 when none has that length.
    max_code: [i32; 17],
    /// Index into `values` of the first code of each length, minus that code.
    offset: [i32; 17],
    values: Vec<u8>,
}

impl Huffman {
    fn new(counts: &[u8; 16], values: &[u8]) -> Self {
        let mut max_code = [-1i32; 17];
        let mut offset = [0i32; 17];
        let (mut code, mut k) = (0i32, 0i32);
        for len in 1..=16 {
            let n = i32::from(counts[len - 1]);
            offset[len] = k - code;
            if n > 0 {
                code += n;
                k += n;
                max_code[len] = code - 1;
            }
            code <<= 1;
        }
        Self {
            max_code,
            offset,
            values: values.to_vec(),
        }
    }
}

/// Bits of one entropy-coded segment; `None` once the segment's data is exhausted.
struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    acc: u32,
    left: u32,
    /// A marker ended the segment at `pos`.
    at_marker: bool,
}

impl<'a> Bits<'a> {
    fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            acc: 0,
            left: 0,
            at_marker: false,
        }
    }

    fn bit(&mut self) -> Option<u32> {
        if self.left == 0 {
            if self.at_marker {
                return None;
            }
            let byte = *self.data.get(self.pos)?;
            if byte == 0xFF {
                match self.data.get(self.pos + 1) {
                    Some(0x00) => self.pos += 2,
                    _ => {
                        self.at_marker = true;
                        return None;
                    }
                }
            } else {
                self.pos += 1;
            }
            self.acc = u32::from(byte);
            self.left = 8;
        }
        self.left -= 1;
        Some((self.acc >> self.left) & 1)
    }

    fn bits(&mut self, n: u32) -> Option<u32> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Some(v)
    }

    fn decode(&mut self, table: &Huffman) -> Option<Result<u8, Incomplete>> {
        let mut code = 0i32;
        for len in 1..=16 {
            code = (code << 1) | self.bit()? as i32;
            if code <= table.max_code[len] {
                let i = (table.offset[len] + code) as usize;
                return Some(
                    table
                        .values
                        .get(i)
                        .copied()
                        .ok_or_else(|| "Huffman code outside its table".to_string()),
                );
            }
        }
        Some(Err("invalid Huffman code".to_string()))
    }

    /// Skip to the byte boundary and over a restart marker, as the encoder wrote one.
    fn restart(&mut self) -> bool {
        self.left = 0;
        // An encoder may pad with 0xFF fill bytes before the marker.
        let mut p = self.pos;
        while self.data.get(p) == Some(&0xFF) && self.data.get(p + 1) == Some(&0xFF) {
            p += 1;
        }
        match (self.data.get(p), self.data.get(p + 1)) {
            (Some(0xFF), Some(0xD0..=0xD7)) => {
                self.pos = p + 2;
                self.at_marker = false;
                true
            }
            _ => false,
        }
    }
}

/// Walk a whole JPEG stream. `Ok(())` means every scan present codes every one of its
/// blocks; the error says what is missing or malformed.
pub(crate) fn check_complete(data: &[u8]) -> Result<(), Incomplete> {
    if !data.starts_with(&[0xFF, 0xD8]) {
        return Err("no start-of-image marker".into());
    }
    let mut dc: [Option<Huffman>; 4] = Default::default();
    let mut ac: [Option<Huffman>; 4] = Default::default();
    let mut comps: Vec<Component> = Vec::new();
    let mut frame: Option<Frame> = None;
    let mut restart_interval = 0usize;
    // Progressive only: which coefficients of each block are non-zero so far (one bit per
    // zig-zag index), needed to parse refinement scans.
    let mut nonzero: Vec<Vec<u64>> = Vec::new();
    let mut scans = 0usize;
    let mut pos = 2usize;
    loop {
        // Markers may be preceded by any number of 0xFF fill bytes.
        if data.get(pos) != Some(&0xFF) {
            return Err(format!("expected a marker at byte {pos}"));
        }
        while data.get(pos) == Some(&0xFF) {
            pos += 1;
        }
        let Some(&marker) = data.get(pos) else {
            return Err("data ends before the end-of-image marker".into());
        };
        pos += 1;
        match marker {
            0xD9 => break,
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let len = match (data.get(pos), data.get(pos + 1)) {
            (Some(&a), Some(&b)) => usize::from(u16::from_be_bytes([a, b])),
            _ => return Err(format!("marker FF{marker:02X} at byte {pos} is cut off")),
        };
        if len < 2 {
            return Err(format!("segment FF{marker:02X} has length {len}"));
        }
        let Some(segment) = data.get(pos + 2..pos + len) else {
            return Err(format!(
                "segment FF{marker:02X} at byte {pos} claims {len} bytes, {} remain",
                data.len() - pos
            ));
        };
        pos += len;
        match marker {
            0xC4 => read_dht(segment, &mut dc, &mut ac)?,
            0xDD => {
                let &[a, b, ..] = segment else {
                    return Err("short restart interval segment".into());
                };
                restart_interval = usize::from(u16::from_be_bytes([a, b]));
            }
            0xC0..=0xC3 => {
                if frame.is_some() {
                    return Err("more than one frame header".into());
                }
                let f = read_sof(segment, marker, &mut comps)?;
                if f.progressive {
                    nonzero = comps
                        .iter()
                        .map(|c| vec![0u64; c.blocks_x * c.blocks_y])
                        .collect();
                }
                frame = Some(f);
            }
            0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(format!(
                    "JPEG process SOF{} (arithmetic or hierarchical) is not supported",
                    marker - 0xC0
                ));
            }
            0xDA => {
                let Some(f) = frame.as_ref() else {
                    return Err("scan before the frame header".into());
                };
                let scan = read_sos(segment, &comps, f)?;
                let mut bits = Bits::new(data, pos);
                let walk = ScanWalk {
                    frame: f,
                    comps: &comps,
                    scan: &scan,
                    dc: &dc,
                    ac: &ac,
                    restart_interval,
                };
                walk.run(&mut bits, &mut nonzero)
                    .map_err(|e| format!("scan {}: {e}", scans + 1))?;
                for &i in &scan.comps {
                    if !f.progressive || scan.ss == 0 {
                        comps[i].seen = true;
                    }
                }
                scans += 1;
                // Resume the marker walk after the entropy-coded data (and any restart
                // markers or padding decoders ignore there).
                pos = bits.pos;
                while let Some(&byte) = data.get(pos) {
                    match (byte, data.get(pos + 1)) {
                        (0xFF, Some(0x00 | 0xD0..=0xD7)) => pos += 2,
                        (0xFF, _) => break,
                        _ => pos += 1,
                    }
                }
            }
            _ => {}
        }
    }
    if frame.is_none() || scans == 0 {
        return Err("no frame or no scan before the end-of-image marker".into());
    }
    if let Some(c) = comps.iter().find(|c| !c.seen) {
        return Err(format!("component {} is never coded", c.id));
    }
    Ok(())
}

struct Frame {
    progressive: bool,
    lossless: bool,
    /// MCUs across and down when a scan interleaves components.
    mcus_x: usize,
    mcus_y: usize,
}

fn read_sof(s: &[u8], marker: u8, comps: &mut Vec<Component>) -> Result<Frame, Incomplete> {
    let &[_precision, h0, h1, w0, w1, n, ..] = s else {
        return Err("short frame header".into());
    };
    let height = usize::from(u16::from_be_bytes([h0, h1]));
    let width = usize::from(u16::from_be_bytes([w0, w1]));
    if height == 0 || width == 0 {
        return Err(format!(
            "frame is {width}x{height} (a height set later by DNL is not supported)"
        ));
    }
    let n = usize::from(n);
    if n == 0 || n > 4 || s.len() < 6 + 3 * n {
        return Err(format!("frame header with {n} components"));
    }
    for c in s[6..6 + 3 * n].chunks_exact(3) {
        let (h, v) = (usize::from(c[1] >> 4), usize::from(c[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) {
            return Err(format!("component {} has sampling {h}x{v}", c[0]));
        }
        comps.push(Component {
            id: c[0],
            h,
            v,
            ..Component::default()
        });
    }
    let lossless = marker == 0xC3;
    let unit = if lossless { 1 } else { 8 };
    let hmax = comps.iter().map(|c| c.h).max().unwrap_or(1);
    let vmax = comps.iter().map(|c| c.v).max().unwrap_or(1);
    for c in comps.iter_mut() {
        c.blocks_x = (width * c.h).div_ceil(hmax).div_ceil(unit);
        c.blocks_y = (height * c.v).div_ceil(vmax).div_ceil(unit);
    }
    Ok(Frame {
        progressive: marker == 0xC2,
        lossless,
        mcus_x: width.div_ceil(unit * hmax),
        mcus_y: height.div_ceil(unit * vmax),
    })
}

fn read_dht(
    mut s: &[u8],
    dc: &mut [Option<Huffman>; 4],
    ac: &mut [Option<Huffman>; 4],
) -> Result<(), Incomplete> {
    while !s.is_empty() {
        let Some((&tc_th, rest)) = s.split_first() else {
            break;
        };
        let Some(counts) = rest.get(..16) else {
            return Err("short Huffman table".into());
        };
        let counts: [u8; 16] = counts.try_into().map_err(|_| "short Huffman table")?;
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        let Some(values) = rest.get(16..16 + total) else {
            return Err("Huffman table values cut off".into());
        };
        let (class, id) = (tc_th >> 4, usize::from(tc_th & 15));
        if id > 3 || class > 1 {
            return Err(format!("Huffman table class {class} id {id}"));
        }
        let table = Some(Huffman::new(&counts, values));
        if class == 0 {
            dc[id] = table;
        } else {
            ac[id] = table;
        }
        s = &rest[16 + total..];
    }
    Ok(())
}

struct Scan {
    /// Indexes into the frame's components, with their DC and AC table ids.
    comps: Vec<usize>,
    tables: Vec<(usize, usize)>,
    ss: usize,
    se: usize,
    ah: u8,
}

fn read_sos(s: &[u8], comps: &[Component], f: &Frame) -> Result<Scan, Incomplete> {
    let n = usize::from(*s.first().ok_or("empty scan header")?);
    if n == 0 || n > 4 || s.len() < 1 + 2 * n + 3 {
        return Err(format!("scan header with {n} components"));
    }
    let mut scan = Scan {
        comps: Vec::new(),
        tables: Vec::new(),
        ss: usize::from(s[1 + 2 * n]),
        se: usize::from(s[2 + 2 * n]),
        ah: s[3 + 2 * n] >> 4,
    };
    for c in s[1..1 + 2 * n].chunks_exact(2) {
        let i = comps
            .iter()
            .position(|k| k.id == c[0])
            .ok_or_else(|| format!("scan names component {} not in the frame", c[0]))?;
        scan.comps.push(i);
        scan.tables
            .push((usize::from(c[1] >> 4) & 3, usize::from(c[1] & 15) & 3));
    }
    if f.progressive {
        if scan.se > 63 || scan.ss > scan.se || (scan.ss > 0 && n != 1) {
            return Err(format!(
                "progressive scan with spectral range {}..={} over {n} components",
                scan.ss, scan.se
            ));
        }
    } else if !f.lossless && (scan.ss != 0 || scan.se != 63) {
        // Baseline/extended decoders ignore these; any value codes full blocks.
        scan.ss = 0;
        scan.se = 63;
    }
    Ok(scan)
}

struct ScanWalk<'a> {
    frame: &'a Frame,
    comps: &'a [Component],
    scan: &'a Scan,
    dc: &'a [Option<Huffman>; 4],
    ac: &'a [Option<Huffman>; 4],
    restart_interval: usize,
}

const SHORT: &str = "coded data ends before the last block (truncated file or forged size)";

impl ScanWalk<'_> {
    fn table<'t>(&self, set: &'t [Option<Huffman>; 4], id: usize) -> Result<&'t Huffman, String> {
        set[id]
            .as_ref()
            .ok_or_else(|| format!("Huffman table {id} used but not defined"))
    }

    fn run(&self, bits: &mut Bits, nonzero: &mut [Vec<u64>]) -> Result<(), Incomplete> {
        let interleaved = self.scan.comps.len() > 1;
        // Every MCU lists (component slot, block index in that component's grid or None
        // for padding blocks outside it, which are still coded).
        let (mcus_x, mcus_y) = if interleaved {
            (self.frame.mcus_x, self.frame.mcus_y)
        } else {
            let c = &self.comps[self.scan.comps[0]];
            (c.blocks_x, c.blocks_y)
        };
        let mut eobrun = 0u32;
        let mut since_restart = 0usize;
        let total = mcus_x * mcus_y;
        for mcu in 0..total {
            if self.restart_interval > 0 && since_restart == self.restart_interval {
                if !bits.restart() {
                    return Err(format!(
                        "restart marker missing before MCU {mcu} of {total}"
                    ));
                }
                since_restart = 0;
                eobrun = 0;
            }
            since_restart += 1;
            let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
            for (slot, &ci) in self.scan.comps.iter().enumerate() {
                let c = &self.comps[ci];
                let (bh, bv) = if interleaved { (c.h, c.v) } else { (1, 1) };
                for by in 0..bv {
                    for bx in 0..bh {
                        let (x, y) = if interleaved {
                            (mx * c.h + bx, my * c.v + by)
                        } else {
                            (mx, my)
                        };
                        let block = (x < c.blocks_x && y < c.blocks_y).then(|| y * c.blocks_x + x);
                        self.unit(bits, slot, ci, block, &mut eobrun, nonzero)
                            .map_err(|e| {
                                e.unwrap_or_else(|| format!("{SHORT}: MCU {mcu} of {total}"))
                            })?;
                    }
                }
            }
        }
        Ok(())
    }

    /// One block (one sample when lossless). `Err(None)` when the data ran out.
    fn unit(
        &self,
        bits: &mut Bits,
        slot: usize,
        ci: usize,
        block: Option<usize>,
        eobrun: &mut u32,
        nonzero: &mut [Vec<u64>],
    ) -> Result<(), Option<String>> {
        let (dc_id, ac_id) = self.scan.tables[slot];
        let (ss, se, ah) = (self.scan.ss, self.scan.se, self.scan.ah);
        let decode = |bits: &mut Bits, t: &Huffman| -> Result<u8, Option<String>> {
            match bits.decode(t) {
                None => Err(None),
                Some(r) => r.map_err(Some),
            }
        };
        let need = |v: Option<u32>| v.ok_or(None::<String>);
        if self.frame.lossless {
            let s = decode(bits, self.table(self.dc, dc_id).map_err(Some)?)?;
            if s > 16 {
                return Err(Some(format!("lossless difference category {s}")));
            }
            if s < 16 {
                need(bits.bits(u32::from(s)))?;
            }
            return Ok(());
        }
        if !self.frame.progressive {
            let s = decode(bits, self.table(self.dc, dc_id).map_err(Some)?)?;
            if s > 16 {
                return Err(Some(format!("DC difference category {s}")));
            }
            need(bits.bits(u32::from(s)))?;
            let ac_t = self.table(self.ac, ac_id).map_err(Some)?;
            let mut k = 1;
            while k < 64 {
                let rs = decode(bits, ac_t)?;
                let (r, s) = (usize::from(rs >> 4), u32::from(rs & 15));
                if s == 0 {
                    if r != 15 {
                        break;
                    }
                    k += 16;
                    continue;
                }
                k += r;
                need(bits.bits(s))?;
                k += 1;
            }
            return Ok(());
        }
        // Progressive (ITU T.81 G.1.2).
        if ss == 0 {
            if ah == 0 {
                let s = decode(bits, self.table(self.dc, dc_id).map_err(Some)?)?;
                if s > 16 {
                    return Err(Some(format!("DC difference category {s}")));
                }
                need(bits.bits(u32::from(s)))?;
            } else {
                need(bits.bit())?;
            }
            return Ok(());
        }
        let ac_t = self.table(self.ac, ac_id).map_err(Some)?;
        let mut scratch = 0u64;
        let mask = match block {
            Some(b) => nonzero[ci].get_mut(b).ok_or(None::<String>)?,
            None => &mut scratch,
        };
        let mut k = ss;
        if ah == 0 {
            if *eobrun > 0 {
                *eobrun -= 1;
                return Ok(());
            }
            while k <= se {
                let rs = decode(bits, ac_t)?;
                let (r, s) = (u32::from(rs >> 4), u32::from(rs & 15));
                if s == 0 {
                    if r < 15 {
                        *eobrun = (1 << r) - 1;
                        if r > 0 {
                            *eobrun += need(bits.bits(r))?;
                        }
                        break;
                    }
                    k += 16;
                    continue;
                }
                k += r as usize;
                need(bits.bits(s))?;
                if k <= 63 {
                    *mask |= 1 << k;
                }
                k += 1;
            }
            return Ok(());
        }
        // Refinement: as libjpeg's decode_mcu_AC_refine.
        if *eobrun == 0 {
            while k <= se {
                let rs = decode(bits, ac_t)?;
                let (mut r, s) = (i32::from(rs >> 4), rs & 15);
                if s != 0 {
                    need(bits.bit())?;
                } else if r != 15 {
                    *eobrun = 1 << r;
                    if r > 0 {
                        *eobrun += need(bits.bits(r as u32))?;
                    }
                    break;
                }
                while k <= se {
                    if *mask & (1 << k) != 0 {
                        need(bits.bit())?;
                    } else {
                        r -= 1;
                        if r < 0 {
                            break;
                        }
                    }
                    k += 1;
                }
                if s != 0 && k <= 63 {
                    *mask |= 1 << k;
                }
                k += 1;
            }
        }
        if *eobrun > 0 {
            while k <= se {
                if *mask & (1 << k) != 0 {
                    need(bits.bit())?;
                }
                k += 1;
            }
            *eobrun -= 1;
        }
        Ok(())
    }
}
