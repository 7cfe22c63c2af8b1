//! PNG figures of a training run (plotters): loss and accuracy curves, the ROC curve, and the
//! 2-D deep-feature scatter of the center-loss paper (Wen et al. 2016, Fig. 3).
//!
//! Text needs a TrueType font; the first one found among common system paths (DejaVu Sans,
//! then the CJK fonts the glyph benchmark installs) is used. Without any, plotting returns
//! [`Error::NotInstalled`] naming the package to install (`fonts-dejavu-core`), and callers
//! print it and carry on: a missing figure never stops training.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use crate::error::{Error, Result};

const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
];

/// Registers a system font with plotters once; an error when none is installed.
fn ensure_font() -> Result<()> {
    static FONT: OnceLock<bool> = OnceLock::new();
    let ok = *FONT.get_or_init(|| {
        for path in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(path) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    });
    if ok {
        Ok(())
    } else {
        Err(Error::NotInstalled {
            what: "a TrueType font for plot labels".into(),
            hint: "apt-get install fonts-dejavu-core".into(),
        })
    }
}

fn draw_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Invalid(format!("{}: cannot draw: {e}", path.display()))
}

/// A named series of (x, y) points.
pub struct Series<'a> {
    pub name: &'a str,
    pub points: Vec<(f64, f64)>,
}

fn bounds(series: &[Series<'_>]) -> (f64, f64, f64, f64) {
    let pts = series
        .iter()
        .flat_map(|s| s.points.iter())
        .filter(|p| p.0.is_finite() && p.1.is_finite());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in pts {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        return (0.0, 1.0, 0.0, 1.0);
    }
    let pad = ((y1 - y0) * 0.05).max(1e-9);
    (x0, x1.max(x0 + 1e-9), y0 - pad, y1 + pad)
}

/// Line chart of one or more series (loss curves, accuracy per epoch).
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[Series<'_>],
) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(path, e))?;
    let (x0, x1, y0, y1) = bounds(series);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| draw_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(|e| draw_error(path, e))?;
    for (i, s) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
            .map_err(|e| draw_error(path, e))?
            .label(s.name)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| draw_error(path, e))?;
    root.present().map_err(|e| draw_error(path, e))
}

/// The ROC curve: TAR against FAR on a log-scaled FAR axis (1e-4 .. 1), as the papers plot it.
pub fn roc_chart(path: &Path, title: &str, roc: &[(f64, f64)]) -> Result<()> {
    ensure_font()?;
    let root = BitMapBackend::new(path, (700, 550)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1e-4f64..1.0).log_scale(), 0.0f64..1.0)
        .map_err(|e| draw_error(path, e))?;
    chart
        .configure_mesh()
        .x_desc("false accept rate")
        .y_desc("true accept rate")
        .draw()
        .map_err(|e| draw_error(path, e))?;
    let pts = roc.iter().map(|&(far, tar)| (far.max(1e-4), tar));
    chart
        .draw_series(LineSeries::new(pts, BLUE.stroke_width(2)))
        .map_err(|e| draw_error(path, e))?;
    root.present().map_err(|e| draw_error(path, e))
}

/// Scatter of 2-D features coloured by class (the center-loss paper's Fig. 3).
pub fn feature_scatter(
    path: &Path,
    title: &str,
    points: &[(f32, f32)],
    labels: &[usize],
) -> Result<()> {
    ensure_font()?;
    let series = [Series {
        name: "",
        points: points.iter().map(|&(x, y)| (x as f64, y as f64)).collect(),
    }];
    let (x0, x1, y0, y1) = bounds(&series);
    let root = BitMapBackend::new(path, (600, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| draw_error(path, e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(30)
        .y_label_area_size(40)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| draw_error(path, e))?;
    chart
        .configure_mesh()
        .draw()
        .map_err(|e| draw_error(path, e))?;
    chart
        .draw_series(
            series[0]
                .points
                .iter()
                .zip(labels)
                .map(|(&(x, y), &c)| Circle::new((x, y), 2, Palette99::pick(c).filled())),
        )
        .map_err(|e| draw_error(path, e))?;
    root.present().map_err(|e| draw_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charts_are_written_as_png_when_a_font_exists() {
        let dir = std::env::temp_dir().join(format!("anglegrad-plots-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let curve = Series {
            name: "loss",
            points: (0..20)
                .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
                .collect(),
        };
        match line_chart(&dir.join("loss.png"), "loss", "step", "loss", &[curve]) {
            Err(Error::NotInstalled { .. }) => {
                println!("skipped: no TrueType font installed");
                return;
            }
            other => other.unwrap(),
        }
        roc_chart(
            &dir.join("roc.png"),
            "ROC",
            &[(0.0, 0.0), (0.01, 0.5), (1.0, 1.0)],
        )
        .unwrap();
        feature_scatter(
            &dir.join("f.png"),
            "features",
            &[(0.0, 1.0), (1.0, 0.0)],
            &[0, 1],
        )
        .unwrap();
        for f in ["loss.png", "roc.png", "f.png"] {
            let bytes = std::fs::read(dir.join(f)).unwrap();
            assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{f} is a PNG");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
