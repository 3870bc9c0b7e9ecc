"""The channel gateway: Zalo OA and Facebook Messenger, on the API's port.

Inbound (views.py): verify the platform's signature on the raw body, store each event
(``channel_event``, unique on the platform's message id), answer 200 at once. The dispatcher
(dispatcher.py) takes each citizen's events in order, one at a time per citizen across
processes, relays them to Rasa's REST channel as ``<platform>:<user id>`` with the platform in
``metadata``, renders Rasa's messages for the platform and queues them in the outbox as one
``channel_message`` per turn. The outbox worker sends them (senders.py) with retries, once.
Officials' replies and status notices reach the same senders through ``citizen_reply``.

Per platform, one module: zalo.py and messenger.py (verify, parse, render, send).
"""
