"""Head refinement against the fused point cloud, and face extraction (stage: refine).

register.py: :func:`refine_head` (rigid head registration with a plausibility guard);
face.py: :func:`extract_face`, :func:`refine_faces`; faces_io.py: the faces.json + faces.npz
stage file; params.py: :class:`RefineParams`; surface.py: the FaceSurface contract with render.
"""
