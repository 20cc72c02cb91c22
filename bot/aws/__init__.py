"""AWS implementations of the capabilities (boto3 / langchain-aws); imported only on the aws backend."""
