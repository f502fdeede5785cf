"""Fine-tuning, threshold tuning and evaluation."""
