"""From labelled sentences to events: role spans read off each sentence, and their values."""
