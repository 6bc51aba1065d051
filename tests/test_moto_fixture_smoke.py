import boto3


def test_moto_server_serves_s3_over_http(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="probe")
    s3.put_object(Bucket="probe", Key="a.txt", Body=b"hello")
    assert s3.get_object(Bucket="probe", Key="a.txt")["Body"].read() == b"hello"
    assert s3.meta.endpoint_url == aws_env
