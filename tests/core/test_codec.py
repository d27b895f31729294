import msgpack
import pytest

from alcyon import DecodeError, Event, MessageTooLarge
from alcyon.codec import decode_batch, encode_batch


def test_binary_payloads_travel_without_base64():
    jpeg = bytes(range(256)) * 400  # 100 KiB of binary
    body = encode_batch([Event(type="camera.frame", source="cam", subject="t1/p0", data=jpeg)])
    assert len(body) < len(jpeg) + 600  # base64 would add a third
    [event] = decode_batch(body)
    assert event.data == jpeg and event.datacontenttype == "application/octet-stream"


def test_a_batch_carries_many_events_of_one_type():
    events = [Event(type="ais.position", source="s", subject=str(i), data={"i": i}) for i in range(50)]
    assert decode_batch(encode_batch(events)) == events


@pytest.mark.parametrize("body,message", [
    (b"\xc1", "not msgpack"),
    (msgpack.packb([1, 2, 3]), "not an alcyon/dramatiq message"),
    (msgpack.packb({"message_id": "m", "args": ["not a list"]}), "not an alcyon batch"),
])
def test_undecodable_bodies_get_a_clear_error(body, message):
    with pytest.raises(DecodeError, match=message):
        decode_batch(body)


def test_messages_over_the_limit_are_refused_with_the_fix():
    body = encode_batch([Event(type="camera.frame", source="c", subject="s", data=b"x" * 5000)])
    with pytest.raises(MessageTooLarge, match="ALCYON_MAX_MESSAGE_BYTES"):
        decode_batch(body, max_bytes=1024)


def test_pickle_is_never_decoded():
    import pickle

    class Boom:
        def __reduce__(self):
            return (print, ("executed",))

    with pytest.raises(DecodeError, match="not msgpack"):
        decode_batch(pickle.dumps({"message_id": "m", "args": [[Boom()]]}))
