"""Head refinement against the fused point cloud, and face extraction (stage: refine)."""
