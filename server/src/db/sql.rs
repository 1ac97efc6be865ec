//! Statement text made to measure: parameter lists whose length depends on the data.

/// A `VALUES` list of `count` pairs of parameters from `$from` (`($1, $2), ($3, $4), …`),
/// padded to the next power of two: returns its length and its text. Each length is a
/// statement of its own, which PostgreSQL plans afresh for its first five runs on each
/// connection, so a handful of lengths keeps that to the first seconds. The caller binds
/// the padding pairs to a key that matches nothing.
pub(super) fn pairs_padded(count: usize, from: usize) -> (usize, String) {
    let padded = count.next_power_of_two();
    let rows = (0..padded)
        .map(|n| format!("(${}, ${})", from + 2 * n, from + 2 * n + 1))
        .collect::<Vec<_>>()
        .join(", ");
    (padded, rows)
}

/// `$from, $from+1, …`: `count` numbered parameters.
pub(super) fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}
