"""cropaudit: reproducible audits of saliency-based image cropping for demographic bias."""

__version__ = "0.1.0"
