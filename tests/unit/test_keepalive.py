from rpcnet.protocol.keepalive import PING_FRAME, PONG_FRAME, KeepaliveAction, KeepaliveTimer


def test_frames_match_the_wire():
    assert PING_FRAME.hex() == "0000001c6b656570000000010000000100000002" + "00000000" * 2
    assert PONG_FRAME.hex() == "0000001c6b656570000000010000000200000002" + "00000000" * 2


def test_libvirtd_schedule_pings_at_5_to_25_then_dead_at_30():
    timer = KeepaliveTimer(5, 5, now=0.0)
    actions = {}
    t = 0.0
    while t <= 31:
        action = timer.poll(t)
        if action is not KeepaliveAction.NONE:
            actions[t] = action
        if action is KeepaliveAction.DEAD:
            break
        t += 0.5
    assert actions == {5.0: KeepaliveAction.SEND_PING, 10.0: KeepaliveAction.SEND_PING,
                       15.0: KeepaliveAction.SEND_PING, 20.0: KeepaliveAction.SEND_PING,
                       25.0: KeepaliveAction.SEND_PING, 30.0: KeepaliveAction.DEAD}


def test_any_frame_resets_the_silence():
    timer = KeepaliveTimer(5, 2, now=0.0)
    assert timer.poll(5.0) is KeepaliveAction.SEND_PING
    timer.received(6.0)
    assert timer.deadline() == 11.0
    assert timer.poll(10.9) is KeepaliveAction.NONE
    assert timer.poll(11.0) is KeepaliveAction.SEND_PING
