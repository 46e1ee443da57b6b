//! The TPC-H chart: each engine's median ÷ DuckDB's, per query, as SVG.

use std::path::Path;

use super::{Case, Report};
use crate::bench::engines::EngineKind;

impl Report {
    /// Grouped bars: each engine's TPC-H median ÷ DuckDB's, per query; the
    /// in-memory engines are left out (their section compares them together).
    pub(super) fn plot(&self, path: &Path) -> anyhow::Result<()> {
        use plotters::prelude::*;

        let cases: Vec<&Case> = self.tpch().collect();
        let engines: Vec<EngineKind> = EngineKind::ALL
            .into_iter()
            .filter(|kind| {
                !kind.in_memory()
                    && cases
                        .iter()
                        .any(|case| self.median(&case.name, *kind).is_some())
            })
            .collect();
        let ratio = |case: &Case, kind: EngineKind| {
            Some(self.median(&case.name, kind)? / self.median(&case.name, EngineKind::DuckDb)?)
        };
        let top = cases
            .iter()
            .flat_map(|case| engines.iter().filter_map(|kind| ratio(case, *kind)))
            .fold(1.0_f64, f64::max)
            * 1.1;
        let root = SVGBackend::new(path, (960, 480)).into_drawing_area();
        let draw = || -> Result<(), Box<dyn std::error::Error>> {
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    format!(
                        "TPC-H SF{}: median time ÷ DuckDB's (lower is faster)",
                        self.scale
                    ),
                    ("sans-serif", 20),
                )
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..cases.len() as f64, 0.0..top)?;
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(cases.len() * 2 + 1)
                .x_label_formatter(&|x| {
                    let index = x.floor() as usize;
                    if (x - index as f64 - 0.5).abs() < 0.01 && index < cases.len() {
                        cases[index].name.to_uppercase()
                    } else {
                        String::new()
                    }
                })
                .y_desc("× DuckDB's median")
                .draw()?;
            let width = 0.8 / engines.len() as f64;
            for (slot, kind) in engines.iter().enumerate() {
                let color = Palette99::pick(slot).to_rgba();
                let bars = cases.iter().enumerate().filter_map(|(index, case)| {
                    let x = index as f64 + 0.1 + slot as f64 * width;
                    Some(Rectangle::new(
                        [(x, 0.0), (x + width * 0.9, ratio(case, *kind)?)],
                        color.filled(),
                    ))
                });
                chart
                    .draw_series(bars)?
                    .label(kind.name())
                    .legend(move |(x, y)| {
                        Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled())
                    });
            }
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 1.0), (cases.len() as f64, 1.0)],
                BLACK.stroke_width(1),
            )))?;
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .draw()?;
            root.present()?;
            Ok(())
        };
        draw().map_err(|error| anyhow::anyhow!("drawing {}: {error}", path.display()))
    }
}
