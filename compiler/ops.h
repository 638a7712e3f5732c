/* The op table: one line per spec op, feeding the parser (names and
 * accepted keys), shape inference, the printer, lowering and the
 * interpreter.  X(ENUM, "spec name", "accepted keys besides op, name, from, window")
 */
#define REEL_OPS(X)                                                               \
  X(LINEAR, "linear", "out bias")                                                 \
  X(RELU, "relu", "")                                                             \
  X(RELU6, "relu6", "")                                                           \
  X(LEAKY_RELU, "leaky_relu", "negative_slope")                                   \
  X(SIGMOID, "sigmoid", "")                                                       \
  X(TANH, "tanh", "")                                                             \
  X(SOFTMAX, "softmax", "")                                                       \
  X(DROPOUT, "dropout", "p")                                                      \
  X(LSTM, "lstm", "hidden layers peephole init_state init_from")                  \
  X(GRU, "gru", "hidden layers init_state")                                       \
  X(CONV2D, "conv2d", "out kernel stride padding dilation groups bias")           \
  X(BATCHNORM, "batchnorm", "eps")                                                \
  X(MAXPOOL, "maxpool", "kernel stride padding ceil_mode")                        \
  X(AVGPOOL, "avgpool", "kernel stride padding ceil_mode count_include_pad")      \
  X(GLOBAL_AVGPOOL, "global_avgpool", "")                                         \
  X(FLATTEN, "flatten", "")                                                       \
  X(ADD, "add", "")                                                               \
  X(CONCAT, "concat", "")                                                         \
  X(PIXEL_SHUFFLE, "pixel_shuffle", "factor")                                     \
  X(PIXEL_UNSHUFFLE, "pixel_unshuffle", "factor")                                 \
  X(CONVLSTM, "convlstm", "hidden kernel layers peephole output init_state")      \
  X(CONVGRU, "convgru", "hidden kernel layers")                                   \
  X(ATTENTION, "attention", "query values score scale hidden")                    \
  X(TEMPORAL_POOL, "temporal_pool", "mode frames stride count")                   \
  X(TEMPORAL_CONV, "temporal_conv", "out frames stride kernel padding bias")
