"""Long jobs as segments: plan cuts at keyframes, encode each segment to its own file (in any
order, on any worker), record progress in a manifest, join the packets into the output.

    segments.py      where to cut (keyframes) and which frames each segment owns
    segment_file.py  a segment's encoded packets, written atomically
    manifest.py      the job folder's JSON: input identity, settings, segment states
    join.py          one mux: the segments' video packets + the input's other streams
    runner.py        the job: resume, run pending segments (here, in worker processes or on Ray), join
    workers.py       worker processes (``--workers N``, one per GPU with ``--device cuda:0,cuda:1``)
    ray_tasks.py     segments as Ray tasks (``--ray ADDRESS`` / ``--ray local``)
"""
