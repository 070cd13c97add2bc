// The baseline of the ctl round-trip benchmark: a C++ program that does nothing, started and
// waited for exactly like `backend-im status`, so the ratio shows what the ctl adds.
int main() { return 0; }
