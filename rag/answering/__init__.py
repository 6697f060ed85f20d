"""From a question and retrieved hits to a cited answer."""
