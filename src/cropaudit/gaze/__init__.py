"""The gaze analysis: selection, automatic labels, review sheets."""
