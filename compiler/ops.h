/* The op table: one line per spec op, feeding the parser (names and
 * accepted keys), shape inference, the printer, lowering and the
 * interpreter.  X(ENUM, "spec name", "accepted keys besides op and name")
 */
#define REEL_OPS(X)                                  \
  X(LINEAR,  "linear",  "out bias")                  \
  X(RELU,    "relu",    "")                          \
  X(SIGMOID, "sigmoid", "")                          \
  X(TANH,    "tanh",    "")                          \
  X(SOFTMAX, "softmax", "")                          \
  X(DROPOUT, "dropout", "p")                         \
  X(LSTM,    "lstm",    "hidden layers peephole")    \
  X(GRU,     "gru",     "hidden layers")
