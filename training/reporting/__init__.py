"""The study report's pure part (no Django): tables from plain records (``tables``), matplotlib plots
(``figures``) and the set of plots one report draws (``plots``). ``training/services/report.py`` feeds
it through the apps' selectors; ``docs/report.md`` defines every column and plot."""
