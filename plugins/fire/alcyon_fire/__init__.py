"""Fire plugin of alcyon: lookout-camera frames to one smoke alert per sequence.

One concept per module:

* :mod:`.vision` - JPEG decode, letterbox, YOLO output decoding, NMS, masks, night frames, hashes.
* :mod:`.model` - the ONNX model from a path or a pinned URL, its interface checked at load.
* :mod:`.detect` - the stateless ``fire-detect`` processor (batched, overlapped inference).
* :mod:`.alert` - Pyronear's sliding-window alert logic, pure; :mod:`.sequences` runs it keyed.
* :mod:`.camera` - the ``camera`` source (directory replay, HTTP snapshots, RTSP) and camera health.
"""
