//! `gatehouse bench`: measurements of this server on this machine (being written).

use clap::Args;

/// Benchmark options.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which benchmark: `signin`, `overload` or `startup`.
    pub which: String,
}

/// Runs a benchmark.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    anyhow::bail!("benchmark {} is not available yet", args.which)
}
