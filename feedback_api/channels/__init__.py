"""The channel gateway: Zalo OA and Facebook Messenger, on the API's port.

Inbound (views.py): verify the platform's signature on the raw body, store each event
(``channel_event``, unique on the platform's message id), answer 200 at once. The dispatcher
(dispatcher.py) takes each citizen's events in order, one at a time per citizen across
processes, relays them to Rasa's REST channel as ``<platform>:<user id>`` with the platform in
``metadata``, renders Rasa's messages for the platform and queues them in the outbox as one
``channel_message`` per turn. The outbox worker sends them (senders.py) with retries, once.
Officials' replies and status notices reach the same senders through ``citizen_reply``.

Per platform, a webhook module (zalo.py, messenger.py: verify, parse, render) and a client
(zalo_api.py, messenger_api.py: send, tokens); wiring.py builds them from settings for the API's
gateway (gateway.py) and the background worker. docs/channels.md tells the whole path.
"""
