"""Faces: detection (MTCNN) and face boxes mapped into composites and crops."""
