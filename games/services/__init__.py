"""Write-side services of the games app: the only code that changes its rows."""
