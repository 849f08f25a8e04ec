"""Media handling with PyAV: probing, decoding to buckets, bucket choice, previews."""
