"""Pure feedback logic (no Django): labels, windows, prompts, output mapping, lexicon rules, metrics."""
