"""Board-side tools: the self-test and deployment over SSH."""
