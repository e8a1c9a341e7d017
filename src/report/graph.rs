//! perf report's call-graph text (`-g graph,0.5` with callee order, as `--no-children`
//! prints it): a tree of the stacks under each entry, percentages of the event's total.
use std::fmt::Write as _;

/// One node of a stack tree: a frame, the weight of stacks ending here, and its callers
/// (callee order: children are callers).
#[derive(Debug, Clone, Default)]
pub struct Node {
    key: u64,
    name: u32,
    hits: u64,
    cumul: u64,
    children: Vec<Node>,
}

impl Node {
    /// An empty tree.
    pub fn root() -> Node {
        Node::default()
    }

    /// Adds one stack (innermost first): `(key, name id)` per frame, with its weight.
    pub fn add(&mut self, frames: &[(u64, u32)], weight: u64) {
        let mut n = self;
        n.cumul += weight;
        for &(key, name) in frames {
            let i = match n.children.iter().position(|c| c.key == key) {
                Some(i) => i,
                None => {
                    n.children.push(Node {
                        key,
                        name,
                        ..Node::default()
                    });
                    n.children.len() - 1
                }
            };
            n = &mut n.children[i];
            n.cumul += weight;
        }
        n.hits += weight;
    }
}

/// Frames of one node that print as a run: the node, then its only child while nothing ends
/// in between (perf keeps such frames in one callchain node).
fn run(mut n: &Node, min: u64) -> (Vec<u32>, &Node) {
    let mut names = vec![n.name];
    loop {
        let kids: Vec<&Node> = n.children.iter().filter(|c| c.cumul >= min).collect();
        if n.hits == 0 && n.children.len() == 1 && kids.len() == 1 {
            n = kids[0];
            names.push(n.name);
        } else {
            return (names, n);
        }
    }
}

fn sorted(n: &Node, min: u64) -> Vec<&Node> {
    let mut v: Vec<&Node> = n.children.iter().filter(|c| c.cumul >= min).collect();
    // Heaviest first; ties keep the order the stacks arrived in.
    v.sort_by_key(|n| std::cmp::Reverse(n.cumul));
    v
}

const LEFT_MARGIN: usize = 12;

/// Writes the graph of one entry. `total` is the event's total weight (percentages are of
/// it), `parent` the entry's own weight (a lone root that holds all of it prints without a
/// percentage), `min_percent` perf's threshold (0.5), `name` turns name ids into text.
/// `skip_first`: the report is sorted by symbol first, so the root frame repeats the entry
/// and perf leaves it out.
pub fn print(
    out: &mut String,
    tree: &Node,
    total: u64,
    parent: u64,
    min_percent: f64,
    skip_first: bool,
    name: &dyn Fn(u32) -> String,
) {
    let min = (total as f64 * min_percent / 100.0) as u64;
    let roots = sorted(tree, min);
    let before = out.len();
    let mut margin = LEFT_MARGIN;
    let mut next: Vec<&Node> = roots.clone();
    if roots.len() == 1 && roots[0].cumul == parent {
        // A single root holding all of the entry prints without a percentage, after `---`.
        let (names, end) = run(roots[0], min);
        let mut printed = false;
        for id in names.iter().skip(usize::from(skip_first)) {
            if !printed {
                let _ = writeln!(out, "{:margin$}|", "");
                let _ = writeln!(out, "{:margin$}---{}", "", name(*id));
                printed = true;
            } else {
                let _ = writeln!(out, "{:w$}{}", "", name(*id), w = margin + 3);
            }
        }
        if printed {
            margin += 3;
        }
        next = sorted(end, min);
    }
    level(out, &next, total, 1, 1, margin, min, name);
    if out.len() > before {
        out.push('\n');
    }
}

#[allow(clippy::too_many_arguments)]
fn level(
    out: &mut String,
    nodes: &[&Node],
    total: u64,
    depth: usize,
    mask: u64,
    margin: usize,
    min: u64,
    name: &dyn Fn(u32) -> String,
) {
    for (k, n) in nodes.iter().enumerate() {
        let mut new_mask = mask;
        if k + 1 == nodes.len() {
            new_mask &= !(1 << (depth - 1));
        }
        // The separator line keeps the old mask: the link stays until the last child.
        out.push_str(&" ".repeat(margin));
        for i in 0..depth {
            out.push_str(if mask & (1 << i) != 0 {
                "|          "
            } else {
                "           "
            });
        }
        out.push('\n');
        let (names, end) = run(n, min);
        for (j, id) in names.iter().enumerate() {
            out.push_str(&" ".repeat(margin));
            for i in 0..depth {
                out.push(if new_mask & (1 << i) != 0 { '|' } else { ' ' });
                if j == 0 && i == depth - 1 {
                    let _ = write!(
                        out,
                        "--{:.2}%--",
                        100.0 * n.cumul as f64 / total.max(1) as f64
                    );
                } else {
                    out.push_str("          ");
                }
            }
            out.push_str(&name(*id));
            out.push('\n');
        }
        let kids = sorted(end, min);
        level(
            out,
            &kids,
            total,
            depth + 1,
            new_mask | (1 << depth),
            margin,
            min,
            name,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branches_print_like_perf() {
        let names = ["", "leaf", "mid_b", "mid_a", "main", "start"];
        let mut t = Node::root();
        for _ in 0..957 {
            t.add(&[(1, 1), (2, 2), (4, 4), (5, 5)], 1);
        }
        for _ in 0..952 {
            t.add(&[(1, 1), (3, 3), (4, 4), (5, 5)], 1);
        }
        let mut out = String::new();
        print(&mut out, &t, 10000, t.cumul, 0.5, false, &|i| {
            names[i as usize].to_string()
        });
        let want = "            |\n            ---leaf\n               |          \n               |--9.57%--mid_b\n               |          main\n               |          start\n               |          \n                --9.52%--mid_a\n                          main\n                          start\n\n";
        assert_eq!(out, want);
    }

    #[test]
    fn small_entries_print_nothing() {
        let mut t = Node::root();
        t.add(&[(1, 1), (2, 2)], 1);
        let mut out = String::new();
        print(&mut out, &t, 10000, t.cumul, 0.5, false, &|_| "x".into());
        assert!(out.is_empty());
    }
}
