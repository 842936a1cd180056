# Feedback labels and annotations arrive with retrospective decoding and annotation.
