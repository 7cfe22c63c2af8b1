//! The procedural face: an identity's [`FaceParams`] posed by one sample's yaw and expression,
//! drawn as layered anti-aliased shapes in the 112×112 template frame.
//!
//! Layers, back to front: background, hair behind the head, ears, head (skin × texture, blush),
//! beard, fringe, brows, eyes (sclera, iris, pupil), nose, mouth, glasses, mole, occluder.
//! Each shape's coverage of a pixel comes from an approximate signed distance:
//!
//! ```text
//! ellipse:  q = sqrt((lx/rx)² + (ly/ry)²)    (lx, ly: the point in the ellipse's own axes)
//!           coverage = clamp(0.5 − (q − 1)·min(rx, ry) / pixel, 0, 1)
//! ```
//!
//! which is 1 inside, 0 outside and a one-pixel ramp across the edge (anti-aliasing at any
//! output size). The 5 landmarks (eye centres, nose tip, mouth corners) come out of the same
//! numbers, so they are exact.

use super::identity::FaceParams;

/// What a sample changes about the face itself (not the camera).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Pose {
    /// −1..1: inner features slide sideways, the head narrows, the far eye shrinks.
    pub yaw: f64,
    /// −1..1: mouth corners up (smile) or down.
    pub smile: f64,
    /// 0..1: mouth opening.
    pub open: f64,
    /// −1..1: brows up or down.
    pub raise: f64,
    /// 0..1: eyes narrowing.
    pub squint: f64,
}

/// An axis-aligned rectangle drawn over the face: `(x0, y0, x1, y1, tone)`.
pub type Occluder = (f64, f64, f64, f64, [f64; 3]);

#[derive(Debug, Clone, Copy)]
struct Ellipse {
    cx: f64,
    cy: f64,
    rx: f64,
    ry: f64,
    cos: f64,
    sin: f64,
}

impl Ellipse {
    fn new(cx: f64, cy: f64, rx: f64, ry: f64) -> Ellipse {
        Ellipse {
            cx,
            cy,
            rx,
            ry,
            cos: 1.0,
            sin: 0.0,
        }
    }

    /// Rotated by an angle whose tangent is `slope`.
    fn tilted(mut self, slope: f64) -> Ellipse {
        let n = (1.0 + slope * slope).sqrt();
        self.cos = 1.0 / n;
        self.sin = slope / n;
        self
    }

    fn coverage(&self, x: f64, y: f64, pix: f64) -> f64 {
        let (dx, dy) = (x - self.cx, y - self.cy);
        let reach = self.rx.max(self.ry) + pix;
        if dx.abs() > reach || dy.abs() > reach {
            return 0.0;
        }
        let lx = dx * self.cos + dy * self.sin;
        let ly = -dx * self.sin + dy * self.cos;
        let q = ((lx / self.rx) * (lx / self.rx) + (ly / self.ry) * (ly / self.ry)).sqrt();
        ramp((q - 1.0) * self.rx.min(self.ry), pix)
    }
}

/// Coverage of a point at signed distance `d` (negative inside) for pixels of size `pix`.
fn ramp(d: f64, pix: f64) -> f64 {
    (0.5 - d / pix).clamp(0.0, 1.0)
}

fn mix(c: &mut [f64; 3], over: [f64; 3], alpha: f64) {
    if alpha > 0.0 {
        for k in 0..3 {
            c[k] += (over[k] - c[k]) * alpha;
        }
    }
}

fn scaled(c: [f64; 3], s: f64) -> [f64; 3] {
    [c[0] * s, c[1] * s, c[2] * s]
}

/// A posed face, ready to be sampled at any point of the template frame.
#[derive(Debug, Clone)]
pub struct Face {
    p: FaceParams,
    pose: Pose,
    background: [f64; 3],
    occluder: Option<Occluder>,
    head: Ellipse,
    hair_back: Ellipse,
    hair_limit: f64,
    ears: [Ellipse; 2],
    eyes: [Ellipse; 2],
    brows: [Ellipse; 2],
    nose_x: f64,
    mouth: (f64, f64, f64),
    /// Boxes `(x0, y0, x1, y1)` outside which whole groups of layers cannot show: everything
    /// but the background, and the inner features (brows to mouth, glasses, mole).
    outer_box: (f64, f64, f64, f64),
    inner_box: (f64, f64, f64, f64),
}

fn inside(b: (f64, f64, f64, f64), x: f64, y: f64) -> bool {
    x >= b.0 && x <= b.2 && y >= b.1 && y <= b.3
}

impl Face {
    pub fn new(
        p: &FaceParams,
        pose: Pose,
        background: [f64; 3],
        occluder: Option<Occluder>,
    ) -> Face {
        let yaw = pose.yaw;
        let (hcx, hcy) = (p.head_center.0 + 2.0 * yaw, p.head_center.1);
        let rx = p.head_radii.0 * (1.0 - 0.1 * yaw.abs());
        let ry = p.head_radii.1;
        let inner = 7.0 * yaw;
        let eye_y = p.eye_y;
        let (erx, ery) = (p.eye_radii.0, p.eye_radii.1 * (1.0 - 0.6 * pose.squint));
        // The eye on the side the face turns away from foreshortens.
        let eyes = [
            Ellipse::new(
                56.0 - p.eye_dx + inner,
                eye_y,
                erx * (1.0 - 0.25 * yaw.max(0.0)),
                ery,
            ),
            Ellipse::new(
                56.0 + p.eye_dx + inner,
                eye_y,
                erx * (1.0 + 0.25 * yaw.min(0.0)),
                ery,
            ),
        ];
        let brow_y = eye_y - p.brow_gap - 2.0 * pose.raise;
        let brows = [
            Ellipse::new(eyes[0].cx, brow_y, erx + 2.5, p.brow_thick / 2.0).tilted(p.brow_tilt),
            Ellipse::new(eyes[1].cx, brow_y, erx + 2.5, p.brow_thick / 2.0).tilted(-p.brow_tilt),
        ];
        let ear_y = eye_y + 7.0;
        let ears = [
            Ellipse::new(
                hcx - rx + 1.0 + 4.0 * yaw.max(0.0),
                ear_y,
                0.55 * p.ear,
                p.ear,
            ),
            Ellipse::new(
                hcx + rx - 1.0 + 4.0 * yaw.min(0.0),
                ear_y,
                0.55 * p.ear,
                p.ear,
            ),
        ];
        let vol = p.hair_volume;
        let hair_back = Ellipse::new(hcx, hcy - 2.0 - vol / 2.0, rx + vol, ry + vol);
        // Generous margins: 3 template units cover the anti-aliasing ramp at 16 px.
        let m = 3.0;
        let outer_box = (
            (hair_back.cx - hair_back.rx).min(ears[0].cx - ears[0].rx) - m,
            hair_back.cy - hair_back.ry - m,
            (hair_back.cx + hair_back.rx).max(ears[1].cx + ears[1].rx) + m,
            hcy + ry + m,
        );
        let reach = p.eye_dx + 7.0 * yaw.abs() + p.eye_radii.0 + 6.0;
        let mole = p.mole.map_or(0.0, |(mx, my)| mx.abs().max(my.abs()) + 2.0);
        let inner_box = (
            56.0 - reach.max(p.mouth_hw + 7.0 * yaw.abs() + 2.0).max(mole) - m,
            (brow_y - p.brow_thick - 2.0)
                .min(eye_y - p.eye_radii.1 - 5.0)
                .min(hcy - mole)
                - m,
            56.0 + reach.max(p.mouth_hw + 7.0 * yaw.abs() + 2.0).max(mole) + m,
            (p.mouth_y + p.lip + 4.0 + 3.0 * pose.smile.abs()).max(hcy + mole) + m,
        );
        Face {
            outer_box,
            inner_box,
            hair_back,
            hair_limit: hcy + p.side_hair * ry * 0.9 - 8.0,
            head: Ellipse::new(hcx, hcy, rx, ry),
            ears,
            eyes,
            brows,
            nose_x: 56.0 + 10.0 * yaw,
            mouth: (56.0 + inner, p.mouth_y, 3.0 * pose.smile),
            p: p.clone(),
            pose,
            background,
            occluder,
        }
    }

    /// The five landmarks in the template frame: left eye, right eye, nose tip, left and right
    /// mouth corner.
    pub fn landmarks(&self) -> [(f64, f64); 5] {
        let (mx, my, lift) = self.mouth;
        [
            (self.eyes[0].cx, self.eyes[0].cy),
            (self.eyes[1].cx, self.eyes[1].cy),
            (self.nose_x, self.p.nose_y),
            (mx - self.p.mouth_hw, my - lift),
            (mx + self.p.mouth_hw, my - lift),
        ]
    }

    /// Head coverage with the jaw taper: the half-width shrinks below the centre.
    fn head_coverage(&self, x: f64, y: f64, pix: f64) -> f64 {
        let h = &self.head;
        let below = ((y - h.cy) / h.ry).clamp(0.0, 1.0);
        let rx = h.rx * (1.0 - self.p.taper * below * below);
        Ellipse { rx, ..*h }.coverage(x, y, pix)
    }

    /// The colour (linear RGB, 0..1) at template point `(x, y)`; `pix` is the size of one output
    /// pixel in template units; `texture` the skin texture value there.
    pub fn color(&self, x: f64, y: f64, pix: f64, texture: f64) -> [f64; 3] {
        let p = &self.p;
        let mut c = self.background;
        if !inside(self.outer_box, x, y) {
            self.occlude(&mut c, x, y, pix);
            return c;
        }
        let hair_cov = self.hair_back.coverage(x, y, pix) * ramp(y - self.hair_limit, pix * 4.0);
        mix(&mut c, p.hair, hair_cov);
        for ear in &self.ears {
            mix(&mut c, scaled(p.skin, 0.9), ear.coverage(x, y, pix));
        }
        let head = self.head_coverage(x, y, pix);
        if head > 0.0 {
            let mut skin = scaled(p.skin, 1.0 + texture);
            // Blush: two soft discs on the cheeks, (1 − r²)² falloff.
            for side in [-1.0, 1.0] {
                let (dx, dy) = ((x - 56.0 - side * 20.0) / 9.0, (y - p.nose_y) / 7.0);
                let r2 = dx * dx + dy * dy;
                if r2 < 1.0 {
                    mix(
                        &mut skin,
                        [0.85, 0.35, 0.35],
                        p.blush * (1.0 - r2) * (1.0 - r2),
                    );
                }
            }
            mix(&mut c, skin, head);
            if p.beard > 0.0 {
                let lower = ((y - p.nose_y - 3.0) / 5.0).clamp(0.0, 1.0);
                mix(&mut c, scaled(p.hair, 0.8), head * lower * p.beard);
            }
            // Fringe: hair above a curve that drops towards the temples.
            let u = (x - self.head.cx) / self.head.rx;
            let fringe = ramp(y - (p.hairline + 14.0 * u * u), pix);
            mix(&mut c, p.hair, head * fringe);
        }
        if inside(self.inner_box, x, y) {
            self.inner_features(&mut c, x, y, pix, head);
        }
        self.occlude(&mut c, x, y, pix);
        c
    }

    fn occlude(&self, c: &mut [f64; 3], x: f64, y: f64, pix: f64) {
        if let Some((x0, y0, x1, y1, tone)) = self.occluder {
            let d = (x0 - x).max(x - x1).max(y0 - y).max(y - y1);
            mix(c, tone, ramp(d, pix));
        }
    }

    /// Brows, eyes, nose, mouth, glasses and mole; `head` is the head's coverage here.
    fn inner_features(&self, c: &mut [f64; 3], x: f64, y: f64, pix: f64, head: f64) {
        let p = &self.p;
        for brow in &self.brows {
            mix(c, scaled(p.hair, 0.7), brow.coverage(x, y, pix));
        }
        for eye in &self.eyes {
            let sclera = eye.coverage(x, y, pix);
            if sclera > 0.0 {
                mix(c, [0.93, 0.92, 0.9], sclera);
                let r = self.p.eye_radii.1 * 0.95;
                let iris = Ellipse::new(eye.cx, eye.cy, r, r).coverage(x, y, pix);
                mix(c, [p.iris * 0.8, p.iris, p.iris * 1.1], iris * sclera);
                let pupil = Ellipse::new(eye.cx, eye.cy, 0.4 * r, 0.4 * r).coverage(x, y, pix);
                mix(c, [0.02, 0.02, 0.02], pupil * sclera);
            }
        }
        self.nose_and_mouth(c, x, y, pix);
        if p.glasses {
            for eye in &self.eyes {
                let outer = Ellipse::new(eye.cx, eye.cy, p.eye_radii.0 + 4.0, p.eye_radii.1 + 4.5);
                let inner = Ellipse::new(eye.cx, eye.cy, p.eye_radii.0 + 2.8, p.eye_radii.1 + 3.3);
                let ring = outer.coverage(x, y, pix) - inner.coverage(x, y, pix);
                mix(c, [0.08, 0.08, 0.1], ring.max(0.0));
            }
            let bridge_x = (self.eyes[0].cx + self.eyes[1].cx) / 2.0;
            let half = (self.eyes[1].cx - self.eyes[0].cx) / 2.0 - p.eye_radii.0 - 3.5;
            let bridge = Ellipse::new(bridge_x, p.eye_y - 1.0, half.max(1.0), 0.7);
            mix(c, [0.08, 0.08, 0.1], bridge.coverage(x, y, pix));
        }
        if let Some((mx, my)) = p.mole {
            let mole = Ellipse::new(self.head.cx + mx, self.head.cy + my, 1.4, 1.4);
            mix(c, scaled(p.skin, 0.4), mole.coverage(x, y, pix) * head);
        }
    }

    fn nose_and_mouth(&self, c: &mut [f64; 3], x: f64, y: f64, pix: f64) {
        let p = &self.p;
        // Nose: a shadow down the bridge and the nostrils at the tip.
        let bridge_len = (p.nose_y - p.eye_y - 3.0) / 2.0;
        let shadow = Ellipse::new(
            self.nose_x + 2.0,
            p.nose_y - bridge_len,
            1.2,
            bridge_len.max(1.0),
        );
        mix(c, scaled(p.skin, 0.8), 0.5 * shadow.coverage(x, y, pix));
        let tip = Ellipse::new(self.nose_x, p.nose_y, p.nose_w, 1.6);
        mix(c, scaled(p.skin, 0.55), tip.coverage(x, y, pix));
        // Mouth: lips between two curves through the corners, an opening between them.
        let (mx, my, lift) = self.mouth;
        let dx = (x - mx) / p.mouth_hw;
        if dx.abs() < 1.0 + pix / p.mouth_hw && (y - my).abs() < p.lip + 4.0 + lift.abs() {
            let across = (1.0 - dx * dx).max(0.0).sqrt();
            let center = my - lift * dx * dx;
            let gap = 2.0 * self.pose.open * across;
            let half = (p.lip / 2.0) * across + gap;
            let side = ramp((dx.abs() - 1.0) * p.mouth_hw, pix);
            let lips = ramp((y - center).abs() - half, pix) * side;
            mix(
                c,
                [p.skin[0] * 1.05, p.skin[1] * 0.55, p.skin[2] * 0.55],
                lips,
            );
            if gap > 0.0 {
                mix(
                    c,
                    [0.1, 0.05, 0.05],
                    ramp((y - center).abs() - gap, pix) * side,
                );
            }
        }
    }
}
