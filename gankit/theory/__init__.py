"""The theory lab: GAN theory's propositions checked on real computations (`gankit theory`).

One module per check (optimal_d, value, saturation, disjoint, max_likelihood, minimax), each with
`run(out, quick) -> CheckResult`; `runner.run_all` runs them and writes theory.json + figures.
"""
