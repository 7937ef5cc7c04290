import threading

import pytest

from streammem.streams.live import DropOldestQueue


def test_full_queue_drops_the_oldest_and_counts_it():
    queue = DropOldestQueue(3)
    for i in range(10):
        queue.put(i)
    queue.close()
    assert queue.dropped == 7
    assert [queue.get(), queue.get(), queue.get()] == [7, 8, 9]
    assert queue.get() is None


def test_producer_error_reaches_the_consumer_after_the_queue_drains():
    queue = DropOldestQueue(2)
    queue.put("last frame")
    queue.close(OSError("device lost"))
    assert queue.get() == "last frame"
    with pytest.raises(OSError, match="device lost"):
        queue.get()


def test_get_times_out_while_the_producer_is_silent():
    with pytest.raises(TimeoutError):
        DropOldestQueue(1).get(timeout=0.01)


def test_get_wakes_when_another_thread_puts():
    queue = DropOldestQueue(1)
    threading.Timer(0.02, queue.put, args=("frame",)).start()
    assert queue.get(timeout=5) == "frame"
    assert queue.dropped == 0
