# Rasa 3.6.21 with what the NLU pipeline's own components need beside it: ONNX Runtime and
# tokenizers for the search's e5 sentence vectors (bot/addons/e5_reader.py), at the versions
# pinned in requirements/rasa.lock, knowledge/ (the chat lexicon and the diacritic restorer
# read a message as the search reads it) and vietnamese/ (the text rules both runtimes share). The e5 model folder and the index come from the
# models volume that the api service fills. Build from the repository root:
#   docker build -f docker/rasa.Dockerfile .
FROM rasa/rasa:3.6.21

USER root
COPY requirements/rasa.lock /tmp/rasa.lock
RUN pip install --no-cache-dir -c /tmp/rasa.lock onnxruntime tokenizers \
    && python -c "import onnxruntime, tokenizers"
COPY knowledge/ /app/knowledge/
COPY vietnamese/ /app/vietnamese/
ENV CAUNOI_REPO=/app \
    PYTHONPATH=/app \
    CAUNOI_E5_MODEL=/app/models/multilingual-e5-small \
    CAUNOI_INDEX=/app/models/index
USER 1001
