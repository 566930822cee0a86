"""Transfer: importing memories from exports (ours, ChatGPT) and writing our export formats."""
