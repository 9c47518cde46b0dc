print("rpcbench")
