//! perf report's call-graph text (`-g graph,0.5` with callee order, as `--no-children`
//! prints it): a tree of the stacks under each entry, percentages of the event's total.
use std::fmt::Write as _;

/// One node of a stack tree: a frame, the weight of stacks ending here, and its callers
/// (callee order: children are callers).
#[derive(Debug, Clone, Default)]
pub struct Node {
    /// Identity, and among children of equal weight their order: (position as perf
    /// compares it, [`tie`] bits over the name id); see [`perf_cmp`].
    key: (u64, u64),
    name: u32,
    hits: u64,
    cumul: u64,
    /// Whether a child is an inlined frame (then siblings compare by name, see
    /// [`perf_cmp`], and finding one takes a scan).
    inlined_child: bool,
    children: Vec<Node>,
}

impl Node {
    /// An empty tree.
    pub fn root() -> Node {
        Node::default()
    }

    /// Adds one stack (innermost first): `(key, name id)` per frame, with its weight.
    pub fn add(&mut self, frames: &[((u64, u64), u32)], weight: u64) {
        let mut n = self;
        n.cumul += weight;
        for &(key, name) in frames {
            let inlined = is_inlined(key);
            // Children stay in the order of perf's tree of children (the greater first).
            // Among frames none of which is inlined perf's comparison is a total order (by
            // binary, start and name), so the sibling equal to `key` is found by binary
            // search, where it would go: the root of a big program's tree has thousands
            // of children. With an inlined frame in play names meet addresses, which is no
            // total order, and only a scan finds the equal one.
            let at = n.children.partition_point(|c| perf_cmp(c.key, key).is_ge());
            let found = if inlined || n.inlined_child {
                n.children.iter().position(|c| perf_cmp(c.key, key).is_eq())
            } else {
                at.checked_sub(1)
                    .filter(|&i| perf_cmp(n.children[i].key, key).is_eq())
            };
            let i = match found {
                Some(i) => i,
                None => {
                    // Where the binary search put it, which is somewhere even where the
                    // comparison is no total order.
                    n.inlined_child |= inlined;
                    n.children.insert(
                        at,
                        Node {
                            key,
                            name,
                            ..Node::default()
                        },
                    );
                    at
                }
            };
            n = &mut n.children[i];
            n.cumul += weight;
        }
        n.hits += weight;
    }
}

/// The second half of a node's key: the name id in the low 32 bits, and for a named
/// frame its name's rank among all names (bits 32..62, perf's `strcmp` order), with bit 62
/// set for a named frame and bit 63 for an inlined one.
pub fn tie(id: u32, rank: Option<u32>, inlined: bool) -> u64 {
    let named = rank.map_or(0, |r| (1 << 62) | (u64::from(r & 0x3fff_ffff) << 32));
    u64::from(id) | named | (u64::from(inlined) << 63)
}

/// Whether a node key is an inlined function's (bit 63 of its [`tie`] half).
fn is_inlined(k: (u64, u64)) -> bool {
    k.1 >> 63 == 1
}

/// perf's comparison of two call-graph siblings (match_chain by function): by name when
/// either is an inlined function (inlined frames share their container's start), else by
/// binary and start address (`key.0`). Equal means one node: perf merges an inlined
/// function with a sibling of the same name.
fn perf_cmp(a: (u64, u64), b: (u64, u64)) -> std::cmp::Ordering {
    let named = |k: (u64, u64)| (k.1 >> 62) & 1 == 1;
    if (is_inlined(a) || is_inlined(b)) && named(a) && named(b) {
        ((a.1 >> 32) & 0x3fff_ffff).cmp(&((b.1 >> 32) & 0x3fff_ffff))
    } else {
        a.0.cmp(&b.0).then((a.1 as u32).cmp(&(b.1 as u32)))
    }
}

/// How a graph is printed (perf's `-g` print types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A tree, percentages of the event's total (`graph`).
    #[default]
    Graph,
    /// A tree, percentages of the parent (`fractal`).
    Fractal,
    /// Every chain that ends somewhere, one frame per line (`flat`).
    Flat,
    /// Every chain that ends somewhere on one line, `;`-separated (`folded`).
    Folded,
}

/// How to print: style, threshold and limits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Print {
    /// Print type.
    pub style: Style,
    /// perf's threshold in percent (0.5 by default).
    pub min_percent: f64,
    /// At most this many branches per level, or chains (perf's print_limit; 0: all).
    pub limit: usize,
    /// The report is sorted by symbol first, so a lone root frame repeats the entry and
    /// perf leaves it out.
    pub skip_first: bool,
}

/// Which way chains run in the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// From the outermost caller down (perf's default in children mode).
    Caller,
    /// From the sampled function up to its callers (perf's default with --no-children).
    Callee,
}

/// `-g`/`--call-graph` of report: what to print, and in which order (None: the mode's
/// default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GraphConfig {
    /// Print type.
    pub style: Style,
    /// Threshold in percent.
    pub min_percent: f64,
    /// perf's print_limit (0: no limit).
    pub limit: usize,
    /// Chain order, when given.
    pub order: Option<Order>,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            style: Style::Graph,
            min_percent: 0.5,
            limit: 0,
            order: None,
        }
    }
}

impl GraphConfig {
    /// perf's `-g` syntax: comma-separated `graph|flat|fractal|folded|none`, a threshold
    /// and then a print limit (numbers), `caller|callee`, `function`, `percent`, in any
    /// order. `none` gives None. Sort key `address`, `branch` and the period/count values
    /// are not implemented and say so.
    pub fn parse(s: &str) -> Result<Option<GraphConfig>, String> {
        let mut g = GraphConfig::default();
        let mut numbers = 0;
        for tok in s.split(',').filter(|t| !t.is_empty()) {
            match tok {
                "none" => return Ok(None),
                "graph" => g.style = Style::Graph,
                "fractal" => g.style = Style::Fractal,
                "flat" => g.style = Style::Flat,
                "folded" => g.style = Style::Folded,
                "caller" => g.order = Some(Order::Caller),
                "callee" => g.order = Some(Order::Callee),
                "function" | "percent" => {}
                "address" | "branch" | "period" | "count" => {
                    return Err(format!(
                        "-g {s}: '{tok}' is not implemented yet (use function, percent)"
                    ))
                }
                t if numbers == 0 => {
                    g.min_percent = t
                        .parse::<f64>()
                        .ok()
                        .filter(|v| *v >= 0.0)
                        .ok_or_else(|| format!("-g {s}: '{t}' is not a print type, order or threshold (graph, flat, fractal, folded, none; caller, callee; a number)"))?;
                    numbers += 1;
                }
                t => {
                    g.limit = t
                        .parse::<usize>()
                        .map_err(|_| format!("-g {s}: bad print limit '{t}'"))?;
                    numbers += 1;
                }
            }
        }
        Ok(Some(g))
    }
}

impl Node {
    /// Weight of the stacks that go on past this node.
    fn children_hit(&self) -> u64 {
        self.cumul - self.hits
    }
}

/// Frames of one node that print as a run: the node, then its only child while nothing ends
/// in between (perf keeps such frames in one callchain node).
fn run<'a>(mut n: &'a Node, f: &Filter) -> (Vec<u32>, &'a Node) {
    let mut names = vec![n.name];
    loop {
        let kids = f.kids(n);
        if n.hits == 0 && n.children.len() == 1 && kids.len() == 1 {
            n = kids[0];
            names.push(n.name);
        } else {
            return (names, n);
        }
    }
}

/// Children at or above `min`, heaviest first; equal weights in perf's order: it walks its
/// tree of children (kept by [`perf_cmp`], the greater first) and puts each node after
/// those of equal weight, so a stable sort of the children as kept.
fn sorted(n: &Node, min: u64) -> Vec<&Node> {
    let mut v: Vec<&Node> = n.children.iter().filter(|c| c.cumul >= min).collect();
    v.sort_by_key(|c| std::cmp::Reverse(c.cumul));
    v
}

/// Which children print: graph mode has one threshold from the event's total; fractal mode
/// one per node, from the weight that goes on past it.
struct Filter {
    fractal: bool,
    abs_min: u64,
    min_percent: f64,
}

impl Filter {
    fn kids<'n>(&self, n: &'n Node) -> Vec<&'n Node> {
        let min = if self.fractal {
            (n.children_hit() as f64 * self.min_percent / 100.0).ceil() as u64
        } else {
            self.abs_min
        };
        sorted(n, min)
    }
}

const LEFT_MARGIN: usize = 12;

/// Writes the call graph of one entry. `total` is the event's total weight, `parent` the
/// entry's own weight (a lone root that holds all of it prints without a percentage; in
/// fractal mode percentages start from it), `name` turns name ids into text.
pub fn print(
    out: &mut String,
    tree: &Node,
    total: u64,
    parent: u64,
    p: Print,
    name: &dyn Fn(u32) -> String,
) {
    match p.style {
        Style::Graph | Style::Fractal => print_tree(out, tree, total, parent, p, name),
        Style::Flat | Style::Folded => print_chains(out, tree, total, p, name),
    }
}

fn print_tree(
    out: &mut String,
    tree: &Node,
    total: u64,
    parent: u64,
    p: Print,
    name: &dyn Fn(u32) -> String,
) {
    let fractal = p.style == Style::Fractal;
    let filter = Filter {
        fractal,
        abs_min: (total as f64 * p.min_percent / 100.0) as u64,
        min_percent: p.min_percent,
    };
    let roots = filter.kids(tree);
    let before = out.len();
    let mut margin = LEFT_MARGIN;
    let mut next: Vec<&Node> = roots.clone();
    let mut level_total = if fractal { parent } else { total };
    if roots.len() == 1 && roots[0].cumul == parent {
        // A single root holding all of the entry prints without a percentage, after `---`.
        let (names, end) = run(roots[0], &filter);
        let mut printed = false;
        let shown = names.iter().skip(usize::from(p.skip_first));
        for (i, id) in shown.enumerate() {
            if p.limit > 0 && i >= p.limit {
                break;
            }
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
        next = filter.kids(end);
        if fractal {
            level_total = parent;
        }
    }
    let ctx = Ctx {
        fractal,
        limit: p.limit,
        margin,
        name,
        filter: &filter,
    };
    level(out, &ctx, &next, level_total, 1, 1);
    if out.len() > before {
        out.push('\n');
    }
}

/// What every level of a tree print shares.
struct Ctx<'a> {
    fractal: bool,
    limit: usize,
    margin: usize,
    name: &'a dyn Fn(u32) -> String,
    filter: &'a Filter,
}

/// The pipes of the levels above, then the percentage of this one (or blanks).
fn prefix(out: &mut String, ctx: &Ctx, depth: usize, mask: u64, pct: Option<f64>) {
    out.push_str(&" ".repeat(ctx.margin));
    for i in 0..depth {
        out.push(if mask & (1 << i) != 0 { '|' } else { ' ' });
        match pct {
            Some(v) if i == depth - 1 => {
                let _ = write!(out, "--{v:.2}%--");
            }
            _ => out.push_str("          "),
        }
    }
}

fn level(out: &mut String, ctx: &Ctx, nodes: &[&Node], total: u64, depth: usize, mask: u64) {
    let shown = if ctx.limit > 0 {
        &nodes[..nodes.len().min(ctx.limit)]
    } else {
        nodes
    };
    let mut remaining = total;
    for (k, n) in shown.iter().enumerate() {
        remaining = remaining.saturating_sub(n.cumul);
        let last = k + 1 == nodes.len();
        let mut new_mask = mask;
        // A fractal level with filtered weight left ends in a `[...]` line instead, so
        // its last branch keeps the link.
        let rest_after = ctx.fractal && {
            let printed: u64 = nodes.iter().map(|n| n.cumul).sum();
            total.saturating_sub(printed) > 0
        };
        if last && !rest_after {
            new_mask &= !(1 << (depth - 1));
        }
        // The separator line keeps the old mask: the link stays until the last child.
        out.push_str(&" ".repeat(ctx.margin));
        for i in 0..depth {
            out.push_str(if mask & (1 << i) != 0 {
                "|          "
            } else {
                "           "
            });
        }
        out.push('\n');
        let (names, end) = run(n, ctx.filter);
        for (j, id) in names.iter().enumerate() {
            let pct = (j == 0).then(|| 100.0 * n.cumul as f64 / total.max(1) as f64);
            prefix(out, ctx, depth, new_mask, pct);
            out.push_str(&(ctx.name)(*id));
            out.push('\n');
        }
        let kids = ctx.filter.kids(end);
        let next_total = if ctx.fractal {
            end.children_hit()
        } else {
            total
        };
        level(
            out,
            ctx,
            &kids,
            next_total,
            depth + 1,
            new_mask | (1 << depth),
        );
    }
    if ctx.fractal && remaining > 0 && remaining != total {
        let m = mask & !(1 << (depth - 1));
        prefix(
            out,
            ctx,
            depth,
            m,
            Some(100.0 * remaining as f64 / total.max(1) as f64),
        );
        out.push_str("[...]\n");
    }
}

/// A flat/folded chain: weight ending at its last frame, weight through it, the frames.
type Chain = (u64, u64, Vec<u32>);

/// Flat and folded: every node where stacks end (at or above the threshold), heaviest
/// first, with the frames from the root down to it.
fn print_chains(out: &mut String, tree: &Node, total: u64, p: Print, name: &dyn Fn(u32) -> String) {
    let min = (total as f64 * p.min_percent / 100.0) as u64;
    let mut chains: Vec<Chain> = Vec::new();
    let mut path: Vec<u32> = Vec::new();
    fn walk(n: &Node, min: u64, path: &mut Vec<u32>, chains: &mut Vec<Chain>) {
        for c in &n.children {
            path.push(c.name);
            walk(c, min, path, chains);
            path.pop();
        }
        if n.hits > 0 && n.hits >= min && !path.is_empty() {
            chains.push((n.hits, n.cumul, path.clone()));
        }
    }
    walk(tree, min, &mut path, &mut chains);
    // Chosen and ordered by the weight that ends at the node; flat shows what goes through
    // it (stacks that go on below are counted again in their own chain), folded what ends.
    chains.sort_by_key(|(h, _, _)| std::cmp::Reverse(*h));
    if p.limit > 0 {
        chains.truncate(p.limit);
    }
    for (hits, cumul, frames) in chains {
        let shown = if p.style == Style::Folded {
            hits
        } else {
            cumul
        };
        let pct = 100.0 * shown as f64 / total.max(1) as f64;
        if p.style == Style::Folded {
            let names: Vec<String> = frames.iter().map(|&id| name(id)).collect();
            let _ = writeln!(out, "{pct:.2}% {}", names.join(";"));
        } else {
            let _ = writeln!(out, "           {pct:.2}%");
            for id in frames {
                let _ = writeln!(out, "                {}", name(id));
            }
            out.push('\n');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: Print = Print {
        style: Style::Graph,
        min_percent: 0.5,
        limit: 0,
        skip_first: false,
    };

    #[test]
    fn branches_print_like_perf() {
        let names = ["", "leaf", "mid_b", "mid_a", "main", "start"];
        let mut t = Node::root();
        for _ in 0..957 {
            t.add(&[((1, 1), 1), ((2, 2), 2), ((4, 4), 4), ((5, 5), 5)], 1);
        }
        for _ in 0..952 {
            t.add(&[((1, 1), 1), ((3, 3), 3), ((4, 4), 4), ((5, 5), 5)], 1);
        }
        let mut out = String::new();
        print(&mut out, &t, 10000, t.cumul, GRAPH, &|i| {
            names[i as usize].to_string()
        });
        let want = "            |\n            ---leaf\n               |          \n               |--9.57%--mid_b\n               |          main\n               |          start\n               |          \n                --9.52%--mid_a\n                          main\n                          start\n\n";
        assert_eq!(out, want);
    }

    #[test]
    fn equal_branches_come_in_perfs_order() {
        let leaf = ((100, tie(9, Some(9), false)), 9);
        let kids = |stacks: &[((u64, u64), u32)]| -> Vec<u32> {
            let mut t = Node::root();
            for &f in stacks {
                t.add(&[leaf, f], 1);
            }
            sorted(&t.children[0], 0).iter().map(|n| n.name).collect()
        };
        // Inlined functions (one container at 10) by name, the greater first, whatever
        // their arrival: names ranked 0 "a", 1 "b", 2 "c".
        let inl = |id: u32, rank: u32| ((10, tie(id, Some(rank), true)), id);
        assert_eq!(kids(&[inl(1, 1), inl(0, 0), inl(2, 2)]), [2, 1, 0]);
        // Functions by binary and address, the higher first, whatever their names.
        let real = |id: u32, at: u64, rank: u32| ((at, tie(id, Some(rank), false)), id);
        assert_eq!(
            kids(&[real(3, 20, 0), real(4, 40, 2), real(5, 30, 1)]),
            [4, 5, 3]
        );
        // Mixed, perf's comparison is no order: all are kept, nothing panics.
        let mut mixed = kids(&[inl(1, 1), real(3, 20, 3), real(4, 30, 0), inl(2, 2)]);
        mixed.sort_unstable();
        assert_eq!(mixed, [1, 2, 3, 4]);
        // An inlined function and a sibling of the same name are one node, as in perf.
        assert_eq!(kids(&[inl(1, 1), real(6, 50, 1)]), [1]);
    }

    #[test]
    fn graph_options_parse_like_perf() {
        assert_eq!(GraphConfig::parse("none").unwrap(), None);
        let g = GraphConfig::parse("fractal,2,10,caller").unwrap().unwrap();
        assert_eq!(g.style, Style::Fractal);
        assert_eq!(g.min_percent, 2.0);
        assert_eq!(g.limit, 10);
        assert_eq!(g.order, Some(Order::Caller));
        let g = GraphConfig::parse("folded").unwrap().unwrap();
        assert_eq!(
            (g.style, g.min_percent, g.order),
            (Style::Folded, 0.5, None)
        );
        assert!(GraphConfig::parse("graph,0.5,callee,address")
            .unwrap_err()
            .contains("address"));
        assert!(GraphConfig::parse("bogus").is_err());
    }

    #[test]
    fn fractal_levels_are_shares_of_their_parent() {
        // leaf ← (mid_b 2/3, mid_a 1/3) ← main, as a callee graph of leaf's 300 samples
        // out of 1000 in the event.
        let names = ["", "leaf", "mid_b", "mid_a", "main"];
        let mut t = Node::root();
        for _ in 0..200 {
            t.add(&[((1, 1), 1), ((2, 2), 2), ((4, 4), 4)], 1);
        }
        for _ in 0..100 {
            t.add(&[((1, 1), 1), ((3, 3), 3), ((4, 4), 4)], 1);
        }
        let mut out = String::new();
        let p = Print {
            style: Style::Fractal,
            ..GRAPH
        };
        print(&mut out, &t, 1000, 300, p, &|i| {
            names[i as usize].to_string()
        });
        assert!(out.contains("|--66.67%--mid_b"), "{out}");
        assert!(out.contains(" --33.33%--mid_a"), "{out}");
        let mut folded = String::new();
        let p = Print {
            style: Style::Folded,
            ..GRAPH
        };
        print(&mut folded, &t, 1000, 300, p, &|i| {
            names[i as usize].to_string()
        });
        assert_eq!(folded, "20.00% leaf;mid_b;main\n10.00% leaf;mid_a;main\n");
    }

    #[test]
    fn small_entries_print_nothing() {
        let mut t = Node::root();
        t.add(&[((1, 1), 1), ((2, 2), 2)], 1);
        let mut out = String::new();
        print(&mut out, &t, 10000, t.cumul, GRAPH, &|_| "x".into());
        assert!(out.is_empty());
    }
}
