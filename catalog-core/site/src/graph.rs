//! The lineage graph's layout: a layered drawing in the manner of Sugiyama,
//! computed once at build time so that the page is plain SVG.
//!
//! 1. Layers: a table that reads nothing is in layer 0; a view is one layer
//!    right of the furthest table it reads (the longest path).
//! 2. Order: within each layer, nodes are sorted by the mean position of
//!    their neighbours in the layer before, then after (barycentres), a few
//!    sweeps, which removes most crossings in the shapes catalogs have.
//! 3. Wrapping: a layer taller than a screenful is split into several
//!    columns, so that a catalog of thousands of tables stays a wide grid
//!    instead of one column miles long.
//!
//! Edges run from the right side of what is read to the left side of the
//! reader, as cubic curves.

/// A node's size and spacing, in SVG units (pixels at 100%).
pub(crate) const NODE_WIDTH: u32 = 220;
const NODE_HEIGHT: u32 = 30;
const ROW_GAP: u32 = 12;
const COLUMN_GAP: u32 = 80;
const MARGIN: u32 = 16;
/// A layer with more nodes than this may be wrapped into several columns.
const MIN_ROWS: usize = 24;
/// Barycentre sweeps (each one down, then up).
const SWEEPS: usize = 4;

/// Where each node and edge goes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Layout {
    pub width: u32,
    pub height: u32,
    /// The top-left corner of each node, in input order.
    pub positions: Vec<(u32, u32)>,
    /// Each edge's SVG path, in input order.
    pub paths: Vec<String>,
}

/// Lays out `count` nodes with `edges` (reader after what it reads: `(from,
/// to)` means `to` reads `from`). Nodes are expected sorted by name: ties
/// keep that order, so the drawing is the same on every build.
pub(crate) fn layout(count: usize, edges: &[(usize, usize)]) -> Layout {
    let layers = layers(count, edges);
    let mut columns = order(count, edges, &layers);
    let mut positions = vec![(0, 0); count];
    let rows = columns.iter().map(|column| column.len()).max().unwrap_or(0);
    // A square-ish grid for a huge layer; a single column for a small one.
    let rows_per_column = rows.min(MIN_ROWS.max((rows as f64 * 4.0).sqrt().ceil() as usize));
    let (mut x, mut height) = (MARGIN, 0);
    for column in columns.iter_mut() {
        for chunk in column.chunks(rows_per_column.max(1)) {
            for (row, &node) in chunk.iter().enumerate() {
                let y = MARGIN + row as u32 * (NODE_HEIGHT + ROW_GAP);
                positions[node] = (x, y);
                height = height.max(y + NODE_HEIGHT);
            }
            x += NODE_WIDTH + COLUMN_GAP;
        }
    }
    let width = (x + MARGIN).saturating_sub(COLUMN_GAP).max(MARGIN * 2);
    let paths = edges
        .iter()
        .map(|&(from, to)| {
            let (x1, y1) = (
                positions[from].0 + NODE_WIDTH,
                positions[from].1 + NODE_HEIGHT / 2,
            );
            let (x2, y2) = (positions[to].0, positions[to].1 + NODE_HEIGHT / 2);
            let bend = (x2.saturating_sub(x1) / 2).max(COLUMN_GAP / 2);
            format!(
                "M{x1},{y1} C{},{y1} {},{y2} {x2},{y2}",
                x1 + bend,
                x2.saturating_sub(bend)
            )
        })
        .collect();
    Layout {
        width,
        height: height + MARGIN,
        positions,
        paths,
    }
}

/// The height of a node, for the template.
pub(crate) const fn node_height() -> u32 {
    NODE_HEIGHT
}

/// Each node's layer: the longest path to it from a node that reads nothing.
/// A node on a cycle (which `codelake views` refuses, but a hand-edited
/// catalog.json may hold) goes one layer right of the rest.
fn layers(count: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut incoming = vec![0usize; count];
    let mut readers = vec![Vec::new(); count];
    for &(from, to) in edges {
        incoming[to] += 1;
        readers[from].push(to);
    }
    let mut layer = vec![0; count];
    let mut ready: Vec<usize> = (0..count).filter(|&n| incoming[n] == 0).collect();
    let mut placed = 0;
    while let Some(node) = ready.pop() {
        placed += 1;
        for &reader in &readers[node] {
            layer[reader] = layer[reader].max(layer[node] + 1);
            incoming[reader] -= 1;
            if incoming[reader] == 0 {
                ready.push(reader);
            }
        }
    }
    if placed < count {
        let last = layer.iter().copied().max().unwrap_or(0) + 1;
        for node in (0..count).filter(|&n| incoming[n] > 0) {
            layer[node] = last;
        }
    }
    layer
}

/// The nodes of each layer, in drawing order.
fn order(count: usize, edges: &[(usize, usize)], layers: &[usize]) -> Vec<Vec<usize>> {
    let depth = layers.iter().copied().max().map_or(0, |max| max + 1);
    let mut columns = vec![Vec::new(); depth];
    let mut linked = vec![false; count];
    for &(from, to) in edges {
        linked[from] = true;
        linked[to] = true;
    }
    // Linked nodes first, so that the lines stay near the top; then the
    // tables no view reads, in name order.
    for node in (0..count).filter(|&n| linked[n]) {
        columns[layers[node]].push(node);
    }
    for node in (0..count).filter(|&n| !linked[n]) {
        columns[layers[node]].push(node);
    }
    let mut neighbours = vec![Vec::new(); count];
    for &(from, to) in edges {
        neighbours[from].push(to);
        neighbours[to].push(from);
    }
    let mut rank = vec![0.0f64; count];
    for column in &columns {
        for (index, &node) in column.iter().enumerate() {
            rank[node] = index as f64;
        }
    }
    for _ in 0..SWEEPS {
        for downward in [true, false] {
            let layer_order: Vec<usize> = match downward {
                true => (1..depth).collect(),
                false => (0..depth.saturating_sub(1)).rev().collect(),
            };
            for layer in layer_order {
                let neighbour_layer = if downward { layer - 1 } else { layer + 1 };
                let key = |node: usize| {
                    let near: Vec<f64> = (neighbours[node].iter())
                        .filter(|&&n| layers[n] == neighbour_layer)
                        .map(|&n| rank[n])
                        .collect();
                    match near.is_empty() {
                        true => rank[node],
                        false => near.iter().sum::<f64>() / near.len() as f64,
                    }
                };
                let mut keyed: Vec<(f64, usize, usize)> = (columns[layer].iter())
                    .enumerate()
                    .map(|(index, &node)| (key(node), index, node))
                    .collect();
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                columns[layer] = keyed.into_iter().map(|(_, _, node)| node).collect();
                for (index, &node) in columns[layer].iter().enumerate() {
                    rank[node] = index as f64;
                }
            }
        }
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_sits_right_of_what_it_reads() {
        // 0, 1: tables; 2 reads 0 and 1; 3 reads 2 and 0.
        let layout = layout(4, &[(0, 2), (1, 2), (2, 3), (0, 3)]);
        let x = |n: usize| layout.positions[n].0;
        assert_eq!(x(0), x(1));
        assert!(x(0) < x(2) && x(2) < x(3), "{:?}", layout.positions);
        assert_eq!(layout.paths.len(), 4);
        assert!(layout.width >= x(3) + NODE_WIDTH);
        assert!(layout.height > layout.positions.iter().map(|p| p.1).max().unwrap());
    }

    #[test]
    fn a_cycle_is_drawn_not_looped_on() {
        let layout = layout(3, &[(0, 1), (1, 2), (2, 1)]);
        assert_eq!(layout.positions.len(), 3);
    }

    #[test]
    fn thousands_of_tables_wrap_into_a_grid() {
        let layout = layout(10_000, &[]);
        assert!(layout.width < 60_000, "{}", layout.width);
        assert!(layout.height < 10_000, "{}", layout.height);
        let mut seen = std::collections::HashSet::new();
        assert!(
            layout.positions.iter().all(|p| seen.insert(*p)),
            "no two nodes overlap"
        );
    }
}
