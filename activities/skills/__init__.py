"""Skills: versioned markdown SOPs an agent loads into its prompt, chosen by embedding match."""
